<?php
$smtp34Page = \Smtp34\Bitrix\Ui\AccountList::class;
require __DIR__ . '/screen.inc.php';
