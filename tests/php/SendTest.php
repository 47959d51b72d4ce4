<?php
declare(strict_types=1);

/** custom_mail() end to end: real letters through a real SMTP server with AUTH. */
final class SendTest extends Smtp34TestCase
{
    public function testBitrixLetterArrivesWithEveryByteInPlace(): void
    {
        $server = $this->authServer();
        $id = $this->account($server);
        $headers = Letters::headers('=?UTF-8?B?' . base64_encode('Магазин') . '?= <shop@site.ru>', [
            'List-Unsubscribe: <https://site.ru/unsub/?id=5&hash=a:b>, <mailto:unsub@site.ru>',
            "X-Long-8bit: Очень длинное значение заголовка,\r\n\tпродолжение на второй строке",
        ]);
        $body = "Здравствуйте!\n.\n..две точки\nконец\n";

        $ok = custom_mail('user@mail.ru', Letters::subject('Восстановление пароля'), $body, $headers, '-fbounce@site.ru', new stdClass());

        $this->assertTrue($ok);
        $letter = $server->only();
        [$head, $sent] = self::split($letter['raw']);
        $this->assertSame('bounce@site.ru', $letter['meta']['mail_from']);
        $this->assertSame(['user@mail.ru'], $letter['meta']['rcpt_tos']);
        $this->assertSame('shop', $letter['meta']['login']);
        $this->assertStringStartsWith("To: user@mail.ru\r\nSubject: " . Letters::subject('Восстановление пароля') . "\r\n", $head);
        $this->assertStringContainsString("\r\n$headers\r\n", $head);
        $this->assertMatchesRegularExpression('/\r\nMessage-ID: <[0-9a-f]{32}@site\.ru>\r\n/', $head);
        $this->assertSame(1, substr_count($head, "\r\nDate: "), 'the letter\'s own Date is kept, none added');
        $this->assertStringNotContainsString('Reply-To: user', $head);
        $this->assertSame(Letters::crlf($body), $sent, 'body bytes unchanged, CRLF, no extra blank line');
        $this->assertContains('BODY=8BITMIME', $letter['meta']['mail_options']);

        $row = $this->lastJournal();
        $this->assertSame($id, $row['account_id']);
        $this->assertSame('sent', $row['status']);
        $this->assertSame('Восстановление пароля', $row['subject']);
        $this->assertSame('Магазин <shop@site.ru>', $row['from']);
        $this->assertSame('user@mail.ru', $row['recipients']);
        $this->assertFalse($row['mailing']);
        $this->assertStringContainsString('queued as smtp34test1', $row['reply']);
        $this->assertMatchesRegularExpression('/^<[0-9a-f]{32}@site\.ru>$/', $row['message_id']);
        $this->assertStringContainsString($row['message_id'], $head);
        $this->assertIsInt($row['duration_ms']);
        $this->assertEqualsWithDelta(time(), $row['time'], 5);
    }

    public function testWindows1251SiteLetter(): void
    {
        $server = $this->authServer();
        $cp = static fn (string $s): string => mb_convert_encoding($s, 'Windows-1251', 'UTF-8');
        $this->account($server, ['name' => 'Магазин']);
        $headers = Letters::headers($cp('Магазин') . ' <shop@site.ru>', [], 'windows-1251');
        $body = $cp("Привет из кодировки windows-1251\nстрока два\n");
        $subject = Letters::subject($cp('Тема письма'), 'windows-1251');

        $this->assertTrue(custom_mail('user@mail.ru', $subject, $body, $headers, ''));

        [$head, $sent] = self::split($server->only()['raw']);
        $this->assertSame(Letters::crlf($body), $sent);
        $this->assertStringContainsString('From: ' . $cp('Магазин') . " <shop@site.ru>\r\n", $head);
        $row = $this->lastJournal();
        $this->assertSame('Тема письма', $row['subject']);
        $this->assertSame('Магазин <shop@site.ru>', $row['from'], 'the raw cp1251 name was read with the letter\'s charset');
    }

    public function testMultipartWithAttachmentIsByteExact(): void
    {
        $server = $this->authServer();
        $this->account($server);
        [$body, $contentType] = Letters::multipart();
        $headers = "From: shop@site.ru\r\nMIME-Version: 1.0\r\n$contentType";

        $this->assertTrue(custom_mail('user@mail.ru', Letters::subject('Счёт'), $body, $headers));

        [$head, $sent] = self::split($server->only()['raw']);
        $this->assertSame(Letters::crlf($body), $sent);
        $this->assertStringContainsString("$contentType\r\n", $head);
    }

    public function testRecipientsFromToCcAndBccInAnyCaseBccNeverSent(): void
    {
        $server = $this->authServer();
        $this->account($server);
        $headers = "From: shop@site.ru\r\nCC: c1@mail.ru,\r\n\t" . Letters::subject('Имя') . " <c2@mail.ru>\r\n"
            . "bcc: hidden1@mail.ru\r\nBCC: HIDDEN1@mail.ru, hidden2@mail.ru\r\nReply-To: reply@mail.ru";

        $this->assertTrue(custom_mail('user@mail.ru, ' . Letters::subject('Получатель') . ' <two@xn--80ak6aa92e.com>', 's', "b\n", $headers));

        $letter = $server->only();
        $this->assertSame(
            ['user@mail.ru', 'two@xn--80ak6aa92e.com', 'c1@mail.ru', 'c2@mail.ru', 'hidden1@mail.ru', 'hidden2@mail.ru'],
            $letter['meta']['rcpt_tos']
        );
        $this->assertDoesNotMatchRegularExpression('/^bcc:/mi', $letter['raw'], 'no Bcc header goes out');
        $this->assertStringNotContainsString('hidden', $letter['raw']);
        $this->assertStringContainsString("CC: c1@mail.ru,\r\n\t", $letter['raw']);
        $this->assertStringNotContainsString('reply@mail.ru', implode(',', $letter['meta']['rcpt_tos']), 'Reply-To is not a recipient');
    }

    public function testSenderNameFilledOnlyWhenTheLetterHasNone(): void
    {
        $server = $this->authServer();
        $this->account($server, ['name' => 'Интернет-магазин']);

        custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru');
        custom_mail('user@mail.ru', 's', "b\n", 'From: Own Name <shop@site.ru>');

        [$first, $second] = $server->received();
        $this->assertStringContainsString("\r\nFrom: =?UTF-8?B?" . base64_encode('Интернет-магазин') . "?= <shop@site.ru>\r\n", $first['raw']);
        $this->assertStringContainsString("\r\nFrom: Own Name <shop@site.ru>\r\n", $second['raw']);
        $this->assertSame('shop@site.ru', $first['meta']['mail_from'], 'without -f the account email is the envelope sender');
    }

    public function testOwnMessageIdKeptAndMissingDateAdded(): void
    {
        $server = $this->authServer();
        $this->account($server);

        custom_mail('user@mail.ru', 's', "b\n", "From: shop@site.ru\r\nMessage-ID: <crm-42@site.ru>");

        [$head] = self::split($server->only()['raw']);
        $this->assertSame(1, substr_count($head, 'Message-ID:'));
        $this->assertStringContainsString("Message-ID: <crm-42@site.ru>\r\n", $head);
        $this->assertMatchesRegularExpression('/\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n/', $head);
        $this->assertSame('<crm-42@site.ru>', $this->lastJournal()['message_id']);
    }

    public function testMailingGoesThroughTheMailingFirstAccountAndMarkersAreRemoved(): void
    {
        $ordinary = $this->authServer();
        $bulk = $this->authServer();
        $ordinaryId = $this->account($ordinary);
        $bulkId = $this->account($bulk, ['mailing_first' => true]);
        $ordinaryNewer = $this->account($ordinary);

        foreach (['X-Smtp34-Mailing: 77', 'X-Sender-Posting: 78', 'X-Bitrix-Posting: 79'] as $marker) {
            $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", Letters::headers('Магазин <shop@site.ru>', [$marker])));
            $row = $this->lastJournal();
            $this->assertTrue($row['mailing']);
            $this->assertSame($bulkId, $row['account_id'], $marker);
        }
        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", Letters::headers('Магазин <shop@site.ru>')));
        $this->assertSame($ordinaryNewer, $this->lastJournal()['account_id'], 'ordinary letters: name+email, highest id');
        $this->assertNotSame($ordinaryId, $ordinaryNewer);

        $sent = array_column($bulk->received(), 'raw');
        $this->assertCount(3, $sent);
        $this->assertStringNotContainsStringIgnoringCase('X-Smtp34-Mailing', $sent[0]);
        $this->assertStringNotContainsString('X-Sender-Posting', $sent[1]);
        $this->assertStringContainsString("X-Bitrix-Posting: 79\r\n", $sent[2], 'Bitrix\'s own marker is not ours to remove');
        $this->assertCount(1, $ordinary->received());
    }

    public function testInactiveAccountsNeverSend(): void
    {
        $server = $this->authServer();
        $active = $this->account($server);
        $this->account($server, ['active' => false]);

        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: Магазин <shop@site.ru>'));
        $this->assertSame($active, $this->lastJournal()['account_id']);
    }

    public function testStartTlsWithAuth(): void
    {
        $server = $this->server(Certificates::server() + ['tls' => 'starttls', 'auth' => 'shop:s3cret-pass']);
        $this->account($server, ['security' => 'starttls', 'verify_tls' => false]);

        $this->assertTrue(custom_mail('user@mail.ru', 's', "тело\n", 'From: shop@site.ru'));
        $this->assertTrue($server->only()['meta']['tls']);
    }

    public function testImplicitTlsWithAuth(): void
    {
        $server = $this->server(Certificates::server() + ['tls' => 'implicit', 'auth' => 'shop:s3cret-pass']);
        $this->account($server, ['security' => 'ssl', 'verify_tls' => false]);

        $this->assertTrue(custom_mail('user@mail.ru', 's', "тело\n", 'From: shop@site.ru'));
        $this->assertTrue($server->only()['meta']['tls']);
    }

    public function testCertificatesAreVerifiedByDefault(): void
    {
        $server = $this->server(Certificates::server() + ['tls' => 'implicit']);
        $id = $this->account($server, ['security' => 'ssl', 'auth' => 'none'], false);
        $this->assertTrue(smtp34_account_get($id)['verify_tls']);

        // an account problem: the letter waits in the outbox until the account is fixed
        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $row = $this->lastJournal();
        $this->assertSame('queued', $row['status']);
        $this->assertStringContainsString('certificate', $row['reply']);
        $this->assertSame([], $server->received());
        $this->assertCount(1, $this->waiting('user@mail.ru'));
    }

    public function testATrustedCertificateVerifies(): void
    {
        // A separate PHP process whose trust store is our test CA (SSL_CERT_FILE).
        $server = $this->server(Certificates::server() + ['tls' => 'starttls']);
        $code = sprintf(<<<'PHP'
            smtp34_settings(['enabled' => true, 'timeout' => 5]);
            foreach (['localhost', '127.0.0.1'] as $host) {
                $id = smtp34_account_save(['email' => "shop@$host.ru", 'host' => $host, 'port' => %d, 'security' => 'starttls'], true);
                var_dump(custom_mail('u@mail.ru', 's', "b\n", "From: shop@$host.ru"));
            }
            echo smtp34_journal(1)[0]['reply'], "\n";
            PHP, $server->port);
        $result = ChildPhp::run($code, ChildPhp::freshIni(), ['SSL_CERT_FILE' => Certificates::ca()]);

        $this->assertSame(0, $result['code'], $result['stderr'] . $result['stdout']);
        $this->assertSame(2, substr_count($result['stdout'], 'bool(true)'), $result['stdout']);
        $this->assertCount(2, $server->received());
    }

    public function testPartlyRefusedRecipientsAreJournaledAndTheRestReceive(): void
    {
        $server = $this->authServer(['reject-rcpt' => 'nobody']);
        $this->account($server);

        $this->assertTrue(custom_mail('user@mail.ru, nobody@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertSame(['user@mail.ru'], $server->only()['meta']['rcpt_tos']);
        $this->assertStringContainsString('refused nobody@mail.ru: 550 5.1.1', $this->lastJournal()['reply']);
    }

    public function testAServerThatRefusesEveryRecipientFailsWithItsReply(): void
    {
        $server = $this->authServer(['reject-rcpt' => 'nobody']);
        $this->account($server);

        $this->assertFalse(custom_mail('nobody@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $row = $this->lastJournal();
        $this->assertSame('failed', $row['status']);
        $this->assertStringStartsWith('refused nobody@mail.ru: 550 5.1.1 <nobody@mail.ru>: Recipient address rejected', $row['reply']);
        $this->assertSame([], $server->received());
        $this->assertSame([], $this->waiting(), 'refused for good: nothing to retry');
    }

    public function testAServerThatIsDownQueuesTheLetterWithinTheTimeout(): void
    {
        $server = $this->authServer();
        $this->account($server);
        $server->stop();

        $started = microtime(true);
        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertLessThan(5, microtime(true) - $started);
        $row = $this->lastJournal();
        $this->assertSame('queued', $row['status']);
        $this->assertStringContainsString('cannot connect to 127.0.0.1', $row['reply']);
        $this->assertCount(1, $this->waiting('user@mail.ru'));
    }

    public function testAServerThatNeverAnswersIsBoundedByTheTimeoutSetting(): void
    {
        $silent = $this->server(['silent' => true]);
        $this->account($silent, ['auth' => 'none'], false);
        smtp34_settings(['timeout' => 1]);

        $started = microtime(true);
        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $elapsed = microtime(true) - $started;
        $this->assertGreaterThan(0.9, $elapsed);
        $this->assertLessThan(3, $elapsed);
        $this->assertSame('queued', $this->lastJournal()['status']);
        $this->assertStringContainsString('timed out after 1s', $this->lastJournal()['reply']);
    }

    public function testTheLastValidDashFIsTheEnvelopeSenderAndNulBytesNeverGoOut(): void
    {
        $server = $this->authServer();
        $this->account($server);
        $subject = '=?UTF-8?B?' . base64_encode(str_repeat('Длинная тема письма ', 80)) . '?=';

        $this->assertTrue(custom_mail('user@mail.ru', $subject, "body\0with a NUL\n", "From: shop@site.ru\r\nX-Note: a\0b", '-fbad -f bounce@site.ru'));

        $letter = $server->only();
        $this->assertSame('bounce@site.ru', $letter['meta']['mail_from']);
        $this->assertStringNotContainsString("\0", $letter['raw']);
        $this->assertStringContainsString("X-Note: a b\r\n", $letter['raw']);
        foreach (explode("\r\n", $letter['raw']) as $line) {
            $this->assertLessThanOrEqual(998, strlen($line));
        }
        $this->assertSame(mb_substr(str_repeat('Длинная тема письма ', 80), 0, 1000), $this->lastJournal()['subject'], 'the journal keeps 1000 characters of it');
    }

    public function testAServerDrippingItsGreetingIsCutOffAtTheTimeout(): void
    {
        $drip = $this->server(['drip' => '1.5']);
        $this->account($drip, ['auth' => 'none'], false);
        smtp34_settings(['timeout' => 3]);

        $started = microtime(true);
        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $elapsed = microtime(true) - $started;

        $this->assertGreaterThan(2.9, $elapsed);
        $this->assertLessThan(4.5, $elapsed, 'the whole reply is bounded by timeout, not each byte');
        $this->assertSame('queued', $this->lastJournal()['status']);
        $this->assertStringContainsString('timed out after 3s waiting for a reply from 127.0.0.1', $this->lastJournal()['reply']);
    }

    public function testWrongStoredPasswordQueuesWithTheServersReply(): void
    {
        $server = $this->authServer();
        $id = $this->account($server, ['password' => 'wrong'], false);

        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $row = $this->lastJournal();
        $this->assertSame('queued', $row['status']);
        $this->assertStringStartsWith("account $id failed: 535", $row['reply']);
        $this->assertStringNotContainsString('wrong', $row['reply']);
    }
}
