<?php
$smtp34Page = \Smtp34\Bitrix\Ui\OutboxList::class;
require __DIR__ . '/screen.inc.php';
