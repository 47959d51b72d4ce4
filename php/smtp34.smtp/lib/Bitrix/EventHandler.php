<?php
declare(strict_types=1);

namespace Smtp34\Bitrix;

use Bitrix\Main\Event;
use Bitrix\Main\EventResult;

/**
 * sender:OnPostingSendRecipientEmail. The sender module passes one array of
 * mail parameters (with MAILING_CHAIN_ID) and merges what handlers return
 * into it, so marking the letter as a mailing is returning HEADER with our
 * marker added (SPEC §2). custom_mail() reads it and removes it before sending.
 */
final class EventHandler
{
    public const MARKER = 'X-Smtp34-Mailing';

    public static function onPostingSendRecipientEmail(Event $event): EventResult
    {
        $params = $event->getParameter(0);
        if (!is_array($params) || empty($params['MAILING_CHAIN_ID'])) {
            return new EventResult(EventResult::SUCCESS, []);
        }
        $headers = is_array($params['HEADER'] ?? null) ? $params['HEADER'] : [];
        $headers[self::MARKER] = (string) (int) $params['MAILING_CHAIN_ID'];
        return new EventResult(EventResult::SUCCESS, ['HEADER' => $headers]);
    }
}
