<?php
$smtp34Page = \Smtp34\Bitrix\Ui\DkimList::class;
require __DIR__ . '/screen.inc.php';
