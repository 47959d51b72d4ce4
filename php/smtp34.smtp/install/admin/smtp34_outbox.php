<?php
// Copied into /bitrix/admin by the installer; the page itself stays in the module.
require $_SERVER['DOCUMENT_ROOT'] . '/bitrix/modules/smtp34.smtp/admin/smtp34_outbox.php';
