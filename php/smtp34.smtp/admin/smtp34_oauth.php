<?php
$smtp34Page = \Smtp34\Bitrix\Ui\OAuthPage::class;
require __DIR__ . '/screen.inc.php';
