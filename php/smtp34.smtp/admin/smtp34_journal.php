<?php
$smtp34Page = \Smtp34\Bitrix\Ui\JournalList::class;
require __DIR__ . '/screen.inc.php';
