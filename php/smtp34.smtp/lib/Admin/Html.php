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
}
