<?php
// Shows one of the module's admin pages: $smtp34Page names its Ui class.
// Included by the page's script, so Bitrix's admin prolog and epilog run at
// that script's own scope: they read $APPLICATION, $USER, $adminPage and more
// from it.
require_once $_SERVER['DOCUMENT_ROOT'] . '/bitrix/modules/main/include/prolog_admin_before.php';
\Bitrix\Main\Loader::includeModule('smtp34.smtp');
$smtp34Screen = \Smtp34\Bitrix\Ui\Admin::open($smtp34Page);
if ($smtp34Screen !== null) {
    $APPLICATION->SetTitle(\Smtp34\Bitrix\Ui\Admin::site($smtp34Screen->title));
    require $_SERVER['DOCUMENT_ROOT'] . '/bitrix/modules/main/include/prolog_admin_after.php';
    $smtp34Screen->show();
    require $_SERVER['DOCUMENT_ROOT'] . '/bitrix/modules/main/include/epilog_admin.php';
}
