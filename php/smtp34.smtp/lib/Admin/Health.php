<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/** An account's health as every worker knows it, for any page: failing (since when, resting until), or its last delivery. */
final class Health
{
    public static function html(array $account, I18n $t): string
    {
        if ($account['failures'] > 0) {
            return '<span class="smtp34-failing">' . Html::e(sprintf($t->get('STATE_FAILING'), $account['failures'], Html::date((int) $account['last_error_at'])))
                . '</span><br><small>' . Html::e($account['last_error']) . '</small>'
                . ($account['resting_until'] !== null ? '<br><small>' . Html::e(sprintf($t->get('STATE_RESTING'), Html::date($account['resting_until']))) . '</small>' : '');
        }
        return $account['last_success_at'] !== null ? Html::e(sprintf($t->get('STATE_OK'), Html::date($account['last_success_at']))) : '—';
    }
}
