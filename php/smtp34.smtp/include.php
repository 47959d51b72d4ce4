<?php
// smtp34.smtp: thin Bitrix glue over the smtp34 PHP extension.
require_once __DIR__ . '/lib/autoload.php';
