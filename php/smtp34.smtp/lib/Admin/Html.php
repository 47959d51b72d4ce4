<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/** Escaping and the few form pieces the pages share. Everything shown goes through e(). */
final class Html
{
    public static function e(string|int|float|null $value): string
    {
        return htmlspecialchars((string) $value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
    }

    /** @param array<string, string> $options */
    public static function select(string $name, array $options, string $selected, string $id = ''): string
    {
        $html = '<select name="' . self::e($name) . '" id="' . self::e($id ?: $name) . '">';
        foreach ($options as $value => $label) {
            $html .= '<option value="' . self::e($value) . '"' . ((string) $value === $selected ? ' selected' : '') . '>' . self::e($label) . '</option>';
        }
        return $html . '</select>';
    }

    /** A Bitrix-style checkbox: a hidden N, overridden by the box's Y when ticked. */
    public static function checkbox(string $name, bool $checked): string
    {
        return '<input type="hidden" name="' . self::e($name) . '" value="N">'
            . '<input type="checkbox" name="' . self::e($name) . '" id="' . self::e($name) . '" value="Y"' . ($checked ? ' checked' : '') . '>';
    }

    public static function hidden(string $name, string $value): string
    {
        return '<input type="hidden" name="' . self::e($name) . '" value="' . self::e($value) . '">';
    }

    public static function date(int $unix): string
    {
        return date('Y-m-d H:i:s', $unix);
    }

    /** A size in bytes, digits grouped (`12 345`). */
    public static function bytes(int $bytes): string
    {
        return number_format($bytes, 0, '', ' ');
    }

    /** A log's bytes for a page: a windows-1251 letter in a log is shown as such. */
    public static function logText(string $bytes): string
    {
        return mb_check_encoding($bytes, 'UTF-8') ? $bytes : mb_convert_encoding($bytes, 'UTF-8', 'Windows-1251');
    }

    /** The control that edits one setting (SPEC §5), the same on every admin host. */
    public static function settingInput(string $key, bool|int|string $value, I18n $t): string
    {
        return match (true) {
            is_bool($value) => self::checkbox($key, $value),
            $key === 'log_level' => self::select($key, ['1' => '1', '2' => '2', '3' => '3', '4' => '4'], (string) $value),
            $key === 'log_period' => self::select($key, array_combine(['day', 'week', 'month', 'year'], array_map(static fn ($p) => $t->get("PERIOD_$p"), ['day', 'week', 'month', 'year'])), (string) $value),
            $key === 'fallback' => self::select($key, ['mail' => $t->get('FALLBACK_mail'), 'none' => $t->get('FALLBACK_none')], (string) $value),
            $key === 'keep_letters' => self::select($key, ['failed' => $t->get('KEEP_failed'), 'all' => $t->get('KEEP_all'), 'none' => $t->get('KEEP_none')], (string) $value),
            $key === 'delivery' => self::select($key, ['background' => $t->get('DELIVERY_background'), 'wait' => $t->get('DELIVERY_wait')], (string) $value),
            default => '<input type="text" name="' . $key . '" id="' . $key . '" value="' . self::e((string) $value) . '">',
        };
    }
}
