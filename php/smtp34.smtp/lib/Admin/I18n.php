<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/** Russian and English strings (lang/<lang>/messages.php), UTF-8. */
final class I18n
{
    /** @var array<string, string> */
    private array $messages;
    /** @var array<string, string> */
    private array $fallback;

    public function __construct(public readonly string $lang = 'ru')
    {
        $this->messages = self::load(in_array($lang, ['ru', 'en'], true) ? $lang : 'ru');
        $this->fallback = self::load('en');
    }

    /** @return array<string, string> */
    private static function load(string $lang): array
    {
        $MESS = [];
        include __DIR__ . "/../../lang/$lang/messages.php";
        return $MESS;
    }

    public function get(string $code): string
    {
        return $this->messages[$code] ?? $this->fallback[$code] ?? $code;
    }
}
