<?php
require_once $_SERVER['DOCUMENT_ROOT'] . '/bitrix/modules/main/include/prolog_admin_before.php';
\Bitrix\Main\Loader::includeModule('smtp34.smtp');
\Smtp34\Bitrix\Ui\OutboxList::show();
