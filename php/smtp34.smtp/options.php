<?php
// Settings → Module settings → smtp34: the settings of SPEC §5 with their help texts.
if (!defined('B_PROLOG_INCLUDED') || B_PROLOG_INCLUDED !== true) {
    die();
}
\Bitrix\Main\Loader::includeModule('smtp34.smtp');
\Smtp34\Bitrix\AdminPage::embedded('settings');
