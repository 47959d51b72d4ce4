<?php
// Copied into /bitrix/admin by the installer; the page itself stays in the
// module, which Bitrix looks for in /local/modules first, then /bitrix/modules.
foreach (['/local', '/bitrix'] as $smtp34Place) {
    if (is_file($smtp34Page = $_SERVER['DOCUMENT_ROOT'] . $smtp34Place . '/modules/smtp34.smtp/admin/' . basename(__FILE__))) {
        require $smtp34Page;
        break;
    }
}
