<?php
// Settings → Module settings → smtp34: the settings of SPEC §5 and the access tab.
if (!defined('B_PROLOG_INCLUDED') || B_PROLOG_INCLUDED !== true) {
    die();
}
\Bitrix\Main\Loader::includeModule('smtp34.smtp');
\Smtp34\Bitrix\Ui\Options::show();
