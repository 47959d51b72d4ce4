<?php
declare(strict_types=1);

// The suite runs inside PHP with the built extension loaded (see .ci/test),
// talking to real aiosmtpd servers started per test case.

if (!extension_loaded('smtp34')) {
    fwrite(STDERR, "The smtp34 extension is not loaded: run the suite with .ci/test\n");
    exit(2);
}

require_once __DIR__ . '/support/HelperProcess.php';
require_once __DIR__ . '/support/SmtpServer.php';
require_once __DIR__ . '/support/DelayProxy.php';
require_once __DIR__ . '/support/Certificates.php';
require_once __DIR__ . '/support/ChildPhp.php';
require_once __DIR__ . '/support/Smtp34TestCase.php';
require_once __DIR__ . '/support/Letters.php';
