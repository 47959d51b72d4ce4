<?php
$smtp34Page = \Smtp34\Bitrix\Ui\AccountForm::class;
require __DIR__ . '/screen.inc.php';
