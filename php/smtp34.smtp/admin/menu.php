<?php
// Services → «Отправка почты через SMTP», for users with rights to the module.
use Smtp34\Admin\I18n;
use Smtp34\Bitrix\AdminPage;

require_once __DIR__ . '/../lib/autoload.php';

global $APPLICATION;
if ($APPLICATION->GetGroupRight(AdminPage::MODULE_ID) < 'R') {
    return false;
}
$t = new I18n(defined('LANGUAGE_ID') && LANGUAGE_ID === 'en' ? 'en' : 'ru');
$aMenu = [
    'parent_menu' => 'global_menu_services',
    'section' => 'smtp34',
    'sort' => 550,
    'text' => $t->get('MENU_TITLE'),
    'icon' => 'mail_menu_icon',
    'items_id' => 'menu_smtp34',
    'items' => [
        ['text' => $t->get('MENU_DASHBOARD'), 'url' => AdminPage::url('dashboard')],
        ['text' => $t->get('MENU_SETTINGS'), 'url' => AdminPage::url('settings')],
        ['text' => $t->get('MENU_ACCOUNTS'), 'url' => AdminPage::url('accounts'), 'more_url' => [AdminPage::url('account_edit')]],
        ['text' => $t->get('MENU_LOGS'), 'url' => AdminPage::url('logs')],
        ['text' => $t->get('MENU_JOURNAL'), 'url' => AdminPage::url('journal')],
        ['text' => $t->get('MENU_OUTBOX'), 'url' => AdminPage::url('outbox')],
        ['text' => $t->get('MENU_DKIM'), 'url' => AdminPage::url('dkim')],
    ],
];
return $aMenu;
