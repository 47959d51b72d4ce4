<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Smtp34\Admin\Actions;
use Smtp34\Bitrix\AdminPage;

/**
 * OAuth 2.0 (SPEC §9) in Bitrix: the account form's Connect link (`id` and
 * the session's `sessid`) sends the admin to the provider; the provider sends
 * them back here with `state` and `code`, which finish the flow.
 */
final class OAuthPage
{
    /** The absolute URL of this page, as registered at the provider. */
    public static function returnUrl(): string
    {
        return Actions::origin($_SERVER, '') . strstr(AdminPage::url('oauth'), '?', true);
    }

    public static function prepare(): ?Screen
    {
        if (!Admin::allowed('W')) {
            return null;
        }
        $t = Admin::t();
        $query = Admin::request($_GET);
        if (isset($query['id'])) {
            if (!check_bitrix_sessid()) {
                return new Screen('OAuth 2.0', static fn () => \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site($t->get('CSRF_FAILED')), 'TYPE' => 'ERROR']));
            }
            try {
                LocalRedirect(smtp34_oauth_start((int) $query['id'], self::returnUrl()), true);
                return null;
            } catch (\Smtp34\Exception|\ValueError $e) {
                $problem = $t->get('OAUTH_FAILED') . ' ' . $e->getMessage();
                return new Screen('OAuth 2.0', static fn () => \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site($problem), 'TYPE' => 'ERROR']));
            }
        }
        [$id, $problem] = Actions::finishOAuth($query, $t);
        if ($id !== null) {
            Admin::redirect('account_edit', ['id' => $id, 'connected' => 1]);
            return null;
        }
        return new Screen('OAuth 2.0', static fn () => \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site((string) $problem), 'TYPE' => 'ERROR']));
    }
}
