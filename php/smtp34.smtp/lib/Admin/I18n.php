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
            return Loc::getMessage($key, null, $this->lang) ?? Loc::getMessage($key, null, 'en') ?? $code;
        }
        return $this->messages[$key] ?? $this->fallback[$key] ?? $code;
    }
}
