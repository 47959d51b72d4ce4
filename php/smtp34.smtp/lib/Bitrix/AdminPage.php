<?php
declare(strict_types=1);

namespace Smtp34\Bitrix;

/** The module's id and the URLs of its admin pages in /bitrix/admin. */
final class AdminPage
{
    public const MODULE_ID = 'smtp34.smtp';

    public static function url(string $page, array $query = []): string
    {
        $query = ['lang' => defined('LANGUAGE_ID') ? LANGUAGE_ID : 'ru'] + $query;
        if ($page === 'settings') {
            return '/bitrix/admin/settings.php?' . http_build_query(['mid' => self::MODULE_ID] + $query);
        }
        return '/bitrix/admin/smtp34_' . $page . '.php?' . http_build_query($query);
    }
}
