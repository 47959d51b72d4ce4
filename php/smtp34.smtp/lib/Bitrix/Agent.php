<?php
declare(strict_types=1);

namespace Smtp34\Bitrix;

use Smtp34\Admin\I18n;

/**
 * The module's agent, run by Bitrix every minute: smtp34_maintain() (the
 * outbox flushed for letters that met a provider hiccup, OAuth tokens idle for
 * 3 days refreshed so providers never expire them, the journal pruned), and
 * it keeps the admin notifications in
 * step with the accounts' health: one per failing account, removed when the
 * account delivers again, one when letters had to be given up, and one for
 * each other alert smtp34_maintain() raised (SPEC §10).
 */
final class Agent
{
    /** What Bitrix stores and evaluates; an agent returns it to run again. */
    public const CALL = '\\Smtp34\\Bitrix\\Agent::flush();';
    public const INTERVAL = 60;
    /** CAdminNotify::DeleteByTag() matches with LIKE '%tag%': every tag ends in '_' so one never contains another. */
    public const GIVEN_UP_TAG = 'SMTP34_GIVEN_UP_';

    public static function accountTag(int $id): string
    {
        return "SMTP34_ACCOUNT_{$id}_FAILING_";
    }

    public static function flush(): string
    {
        if (!function_exists('smtp34_outbox_flush')) {
            return self::CALL;
        }
        try {
            // an extension older than the module has no smtp34_maintain(): flushing is what it can do
            $done = function_exists('smtp34_maintain') ? smtp34_maintain() : ['flushed' => smtp34_outbox_flush(100)];
            self::notify($done['flushed'], smtp34_account_list());
            self::notifyAlerts($done['alerts'] ?? []);
        } catch (\Throwable $e) {
            // an agent that throws is dropped by Bitrix: the next minute tries again
        }
        return self::CALL;
    }

    /**
     * SPEC §10's alerts in Bitrix's admin notifications, but for a failing or
     * recovered account, which notify() keeps in step with its health.
     *
     * @param list<array{id: int, event: string, account_id: ?int, text: string}> $alerts
     */
    public static function notifyAlerts(array $alerts): void
    {
        $charset = I18n::siteCharset();
        foreach ($alerts as $alert) {
            if (in_array($alert['event'], ['account_failing', 'account_recovered'], true)) {
                continue;
            }
            \CAdminNotify::Add([
                'MESSAGE' => $charset === null ? $alert['text'] : mb_convert_encoding($alert['text'], $charset, 'UTF-8'),
                'TAG' => 'SMTP34_ALERT_' . $alert['id'] . '_',
                'MODULE_ID' => AdminPage::MODULE_ID,
                'ENABLE_CLOSE' => 'Y',
                'NOTIFY_TYPE' => 'E',
            ]);
        }
    }

    /**
     * @param array{sent: int, failed: int, left: int} $report
     * @param list<array<string, mixed>> $accounts
     */
    public static function notify(array $report, array $accounts): void
    {
        $t = new I18n(defined('LANGUAGE_ID') && LANGUAGE_ID === 'en' ? 'en' : 'ru');
        foreach ($accounts as $account) {
            $tag = self::accountTag((int) $account['id']);
            \CAdminNotify::DeleteByTag($tag);
            if ($account['active'] && $account['failures'] > 0) {
                \CAdminNotify::Add([
                    'MESSAGE' => sprintf($t->get('NOTIFY_ACCOUNT_FAILING'), $account['email'], $account['id'], $account['failures'], $account['last_error']),
                    'TAG' => $tag,
                    'MODULE_ID' => AdminPage::MODULE_ID,
                    'ENABLE_CLOSE' => 'Y',
                    'NOTIFY_TYPE' => 'E',
                ]);
            }
        }
        if ($report['failed'] > 0) {
            \CAdminNotify::Add([
                'MESSAGE' => sprintf($t->get('NOTIFY_GIVEN_UP'), $report['failed']),
                'TAG' => self::GIVEN_UP_TAG . time() . '_',
                'MODULE_ID' => AdminPage::MODULE_ID,
                'ENABLE_CLOSE' => 'Y',
                'NOTIFY_TYPE' => 'E',
            ]);
        }
    }
}
