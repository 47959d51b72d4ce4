<?php
declare(strict_types=1);

namespace Smtp34\Bitrix;

use Bitrix\Main\Config\Configuration;
use Smtp34\Admin\I18n;

/**
 * Where this site's mail would silently bypass smtp34 (the options page and
 * the dashboard show these; `php --ri smtp34` says the same from the shell):
 * the extension not loaded in the PHP serving the site, Bitrix's own SMTP
 * switched on (Bitrix then never calls custom_mail()), another custom_mail().
 */
final class SiteWarnings
{
    /** Where Bitrix sites define custom_mail() (the extension's --ri looks at the same files). */
    public const CUSTOM_MAIL_FILES = ['local/php_interface/init.php', 'bitrix/php_interface/init.php', 'bitrix/php_interface/dbconn.php'];

    /** @return list<string> */
    public static function all(string $documentRoot, I18n $t): array
    {
        $warnings = [];
        if (!extension_loaded('smtp34')) {
            $warnings[] = sprintf($t->get('WARN_NOT_LOADED'), PHP_SAPI);
        }
        if (self::bitrixSmtpEnabled($documentRoot)) {
            $warnings[] = $t->get('WARN_BITRIX_SMTP');
        }
        if (function_exists('custom_mail')) {
            $function = new \ReflectionFunction('custom_mail');
            if ($function->getExtensionName() !== 'smtp34') {
                $warnings[] = $t->get('FOREIGN_CUSTOM_MAIL') . ' (' . ($function->getFileName() ?: '?') . ':' . $function->getStartLine() . ')';
            }
        }
        foreach (self::CUSTOM_MAIL_FILES as $file) {
            $path = rtrim($documentRoot, '/') . '/' . $file;
            if (is_file($path) && self::definesCustomMail((string) file_get_contents($path))) {
                $warnings[] = sprintf($t->get('WARN_CUSTOM_MAIL_FILE'), $path);
            }
        }
        return $warnings;
    }

    /** Bitrix's 'smtp' => ['enabled' => true] in .settings.php: Bitrix then sends itself and never calls custom_mail(). */
    public static function bitrixSmtpEnabled(string $documentRoot): bool
    {
        if (class_exists(Configuration::class)) {
            $smtp = Configuration::getValue('smtp');
        } else {
            $file = rtrim($documentRoot, '/') . '/bitrix/.settings.php';
            $settings = is_file($file) ? (static fn () => include $file)() : [];
            $smtp = $settings['smtp']['value'] ?? null;
        }
        return is_array($smtp) && !empty($smtp['enabled']);
    }

    /** A `function custom_mail(` outside line comments. */
    public static function definesCustomMail(string $php): bool
    {
        foreach (preg_split('/\R/', $php) as $line) {
            $code = ltrim($line);
            if (str_starts_with($code, '//') || str_starts_with($code, '#') || str_starts_with($code, '*')) {
                continue;
            }
            if (preg_match('/\bfunction\s+custom_mail\s*\(/i', $code)) {
                return true;
            }
        }
        return false;
    }
}
