<?php
$smtp34Page = \Smtp34\Bitrix\Ui\Dashboard::class;
require __DIR__ . '/screen.inc.php';
