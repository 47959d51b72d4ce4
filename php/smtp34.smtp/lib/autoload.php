<?php
// PSR-4 style autoloading of Smtp34\* from lib/, for the standalone pages and the CLI.
// (Inside Bitrix, include.php registers the same classes with Bitrix's Loader.)
spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'Smtp34\\')) {
        $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen('Smtp34\\'))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
