<?php
$smtp34Page = \Smtp34\Bitrix\Ui\LogList::class;
require __DIR__ . '/screen.inc.php';
