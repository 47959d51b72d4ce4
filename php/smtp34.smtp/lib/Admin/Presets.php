<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/**
 * Servers Bitrix sites send through, as data for every host's account form:
 * a preset fills host, port, security and authorization, and says which
 * password (usually an app password) or OAuth the provider wants.
 */
final class Presets
{
    /** key => [host, port, security, auth, OAuth provider or '', I18n key of the hint] */
    public const ALL = [
        'yandex' => ['smtp.yandex.ru', 465, 'ssl', 'login', '', 'PRESET_HINT_yandex'],
        'mailru' => ['smtp.mail.ru', 465, 'ssl', 'login', '', 'PRESET_HINT_mailru'],
        'gmail' => ['smtp.gmail.com', 465, 'ssl', 'login', '', 'PRESET_HINT_gmail'],
        'microsoft365' => ['smtp.office365.com', 587, 'starttls', 'xoauth2', 'microsoft', 'PRESET_HINT_microsoft365'],
        'unisender_go' => ['smtp.go1.unisender.ru', 587, 'starttls', 'login', '', 'PRESET_HINT_unisender_go'],
        'sendpulse' => ['smtp-pulse.com', 465, 'ssl', 'login', '', 'PRESET_HINT_sendpulse'],
        'mailgun' => ['smtp.mailgun.org', 587, 'starttls', 'login', '', 'PRESET_HINT_mailgun'],
        'ses' => ['email-smtp.eu-central-1.amazonaws.com', 587, 'starttls', 'login', '', 'PRESET_HINT_ses'],
        'hosting' => ['localhost', 25, 'none', 'none', '', 'PRESET_HINT_hosting'],
    ];

    /** The choices of the preset list, labelled in the admin's language. */
    public static function choices(I18n $t): array
    {
        $choices = ['' => $t->get('PRESET_NONE')];
        foreach (array_keys(self::ALL) as $key) {
            $choices[$key] = $t->get('PRESET_' . $key);
        }
        return $choices;
    }

    /**
     * The account form posted with "Fill in": what was typed (never a
     * secret) with the chosen preset applied; nothing is saved.
     *
     * @return array{0: array<string, mixed>, 1: ?string} values to show, the hint
     */
    public static function fill(array $post, array $values, I18n $t): array
    {
        $typed = array_merge($values, array_diff_key(Actions::accountFields($post), Actions::SECRET_FIELDS));
        return self::apply($typed, (string) ($post['preset'] ?? ''), $t);
    }

    /**
     * The form's values with preset `$key` applied (nothing saved), and what
     * to tell the admin; unknown keys change nothing.
     *
     * @return array{0: array<string, mixed>, 1: ?string}
     */
    private static function apply(array $values, string $key, I18n $t): array
    {
        if (!isset(self::ALL[$key])) {
            return [$values, null];
        }
        [$host, $port, $security, $auth, $provider, $hint] = self::ALL[$key];
        $values = array_merge($values, ['host' => $host, 'port' => $port, 'security' => $security, 'auth' => $auth, 'verify_tls' => true]);
        if ($provider !== '') {
            $values['oauth_provider'] = $provider;
        }
        return [$values, $t->get($hint)];
    }
}
