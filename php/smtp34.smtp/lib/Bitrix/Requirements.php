<?php
declare(strict_types=1);

namespace Smtp34\Bitrix;

use Smtp34\Admin\I18n;

/** Why the module cannot be installed here, if it cannot. */
final class Requirements
{
    public static function problem(I18n $t): ?string
    {
        if (function_exists('custom_mail')) {
            $function = new \ReflectionFunction('custom_mail');
            if ($function->getExtensionName() !== 'smtp34') {
                return $t->get('FOREIGN_CUSTOM_MAIL') . ' (' . ($function->getFileName() ?: 'unknown file') . ':' . $function->getStartLine() . ')';
            }
        }
        if (!extension_loaded('smtp34') || !function_exists('smtp34_settings')) {
            return $t->get('NO_EXTENSION');
        }
        return null;
    }
}
