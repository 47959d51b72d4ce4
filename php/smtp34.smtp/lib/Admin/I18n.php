<?php
declare(strict_types=1);

namespace Smtp34\Admin;

use Bitrix\Main\Localization\Loc;

/**
 * Russian and English strings of the shared pages, the CLI and the module,
 * kept as Bitrix keeps them: lang/<lang>/lib/Admin/I18n.php, codes prefixed
 * SMTP34_ (Loc's message table is shared by every module). Inside Bitrix
 * they are read through Loc; elsewhere straight from the same files.
 */
final class I18n
{
    public const PREFIX = 'SMTP34_';

    /** @var array<string, string> */
    private array $messages;
    /** @var array<string, string> */
    private array $fallback;

    public function __construct(public readonly string $lang = 'ru')
    {
        $lang = in_array($lang, ['ru', 'en'], true) ? $lang : 'ru';
        $this->messages = self::load($lang);
        $this->fallback = self::load('en');
    }

    /** @return array<string, string> */
    private static function load(string $lang): array
    {
        if (class_exists(Loc::class)) {
            Loc::loadMessages(__FILE__);
            return [];
        }
        $MESS = [];
        include __DIR__ . "/../../lang/$lang/lib/Admin/I18n.php";
        return $MESS;
    }

    public function get(string $code): string
    {
        $key = self::PREFIX . $code;
        if (class_exists(Loc::class)) {
            return self::utf8(Loc::getMessage($key, null, $this->lang) ?? Loc::getMessage($key, null, 'en')) ?? $code;
        }
        return $this->messages[$key] ?? $this->fallback[$key] ?? $code;
    }

    /**
     * A string from Loc as UTF-8. The lang files are UTF-8; on a
     * windows-1251 site Bitrix's Loc may hand them over converted to the
     * site's charset (newer cores do, older ones do not). The pages work in
     * UTF-8 and convert once, on output.
     */
    public static function utf8(?string $text): ?string
    {
        $charset = self::siteCharset();
        if ($text === null || $charset === null || mb_check_encoding($text, 'UTF-8')) {
            return $text;
        }
        return mb_convert_encoding($text, 'UTF-8', $charset);
    }

    /** A Bitrix site's charset (LANG_CHARSET) when it is not UTF-8; null on a UTF-8 site and outside Bitrix. */
    public static function siteCharset(): ?string
    {
        return defined('LANG_CHARSET') && strcasecmp(LANG_CHARSET, 'UTF-8') !== 0 ? LANG_CHARSET : null;
    }
}
