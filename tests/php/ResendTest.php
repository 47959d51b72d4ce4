<?php
declare(strict_types=1);

/**
 * Resend from the journal (SPEC §5 keep_letters, §6 smtp34_journal_resend):
 * what is kept and for whom, sealed at rest, resent byte for byte through
 * the outbox to its own recipients or to another address only.
 */
final class ResendTest extends Smtp34TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        smtp34_settings(['enabled' => true, 'delivery' => 'wait', 'keep_letters' => 'failed']);
    }

    private static function body(array $letter): string
    {
        return explode("\r\n\r\n", $letter['raw'], 2)[1];
    }

    public function testALetterRefusedForGoodIsKeptSealedAndResentByteForByte(): void
    {
        $server = $this->authServer(['reject-data' => true]);
        $this->account($server, [], false);
        $secret = 'https://site.ru/reset?token=' . bin2hex(random_bytes(8));
        $this->assertFalse(custom_mail('buyer@mail.ru', 'Сброс пароля', "Ссылка: $secret\n", 'From: shop@site.ru'));
        $row = smtp34_journal(1)[0];
        $this->assertSame(['failed', true, null], [$row['status'], $row['kept'], $row['resent_from']]);
        // read in a child: closing a handle to the database in this process would drop the extension's locks on it
        $found = ChildPhp::run(sprintf('$rows = (new PDO(%s))->query("SELECT sealed FROM kept_letters WHERE journal_id = %d")->fetchAll(PDO::FETCH_COLUMN);'
            . ' echo count($rows), " ", (int) str_contains(implode("", $rows), %s);', var_export('sqlite:' . ini_get('smtp34.db'), true), $row['id'], var_export($secret, true)), [], [], false);
        $this->assertSame('1 0', $found['stdout'], 'kept bytes are sealed at rest');
        $this->assertStringNotContainsString('token=', json_encode(smtp34_journal(5)), 'and not in the journal');

        // the cause fixed (a server that takes it), the admin resends it
        $good = $this->authServer();
        $this->account($good, ['name' => 'Другой'], false);
        $new = smtp34_journal_resend($row['id']);
        $resent = smtp34_journal(1)[0];
        $this->assertSame([$new, $row['id'], 'queued'], [$resent['id'], $resent['resent_from'], $resent['status']]);
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], smtp34_outbox_flush(10, true));
        $letter = $good->only();
        $this->assertSame(['buyer@mail.ru'], $letter['meta']['rcpt_tos']);
        $this->assertStringContainsString($secret, quoted_printable_decode(self::body($letter)) . self::body($letter) . base64_decode(self::body($letter)));
        $this->assertSame('sent', smtp34_journal(1)[0]['status']);
    }

    public function testKeepAllResendsIdenticalBytesAndToAnotherAddressOnlyThere(): void
    {
        smtp34_settings(['keep_letters' => 'all']);
        $server = $this->authServer();
        $this->account($server, [], false);
        $this->assertTrue(custom_mail('one@mail.ru, two@mail.ru', 'Счёт', "Оплатите счёт №5\n", "From: shop@site.ru\nCc: three@mail.ru"));
        $row = smtp34_journal(1)[0];
        $this->assertTrue($row['kept']);
        [$original] = $server->received();

        smtp34_journal_resend($row['id']);
        smtp34_outbox_flush(10, true);
        smtp34_journal_resend($row['id'], 'manager@site.ru');
        smtp34_outbox_flush(10, true);
        [, $again, $elsewhere] = $server->received();
        $this->assertSame($original['raw'], $again['raw'], 'the same bytes, headers and all');
        $this->assertSame(['one@mail.ru', 'two@mail.ru', 'three@mail.ru'], $again['meta']['rcpt_tos']);
        $this->assertSame($original['raw'], $elsewhere['raw']);
        $this->assertSame(['manager@site.ru'], $elsewhere['meta']['rcpt_tos'], 'only there');
        $rows = smtp34_journal(3);
        $this->assertSame([$row['id'], $row['id']], array_column(array_slice($rows, 0, 2), 'resent_from'));
        $this->assertSame('manager@site.ru', $rows[0]['recipients']);

        try {
            smtp34_journal_resend($row['id'], 'not an address');
            $this->fail('a bad address was taken');
        } catch (\ValueError $e) {
            $this->assertStringStartsWith('to:', $e->getMessage());
        }
    }

    public function testWhatIsNotKeptCannotBeResent(): void
    {
        $server = $this->authServer(['reject-data' => true]);
        $good = $this->authServer();
        $this->account($good, [], false);
        $this->assertTrue(custom_mail('buyer@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $sent = smtp34_journal(1)[0];
        $this->assertFalse($sent['kept'], 'keep_letters = failed keeps no sent letter');
        smtp34_settings(['keep_letters' => 'none']);
        $this->account($server, ['email' => 'news@site.ru'], false);
        $this->assertFalse(custom_mail('buyer@mail.ru', 's', "b\n", 'From: news@site.ru'));
        $refused = smtp34_journal(1)[0];
        $this->assertSame(['failed', false], [$refused['status'], $refused['kept']]);
        foreach ([$sent['id'], $refused['id'], 999999] as $id) {
            try {
                smtp34_journal_resend($id);
                $this->fail("row $id was resent");
            } catch (Smtp34\Exception $e) {
                $this->assertStringContainsString('has no kept letter', $e->getMessage());
            }
        }
    }

    public function testAGivenUpLetterIsKeptForTheRecipientsItNeverReachedAndBulkResendReturnsAtOnce(): void
    {
        $server = $this->authServer();
        $this->account($server, [], false);
        $server->stop();
        $this->assertTrue(custom_mail('late@mail.ru', 'Ждало', "b\n", 'From: shop@site.ru'));
        [$waiting] = $this->waiting();
        self::sqlite(ini_get('smtp34.db'), "UPDATE outbox SET created_at = created_at - 49 * 3600 WHERE id = {$waiting['id']}");
        smtp34_outbox_flush(10, true);
        $row = smtp34_journal(1)[0];
        $this->assertSame(['failed', true], [$row['status'], $row['kept']]);

        $server = $this->authServer();
        $this->account($server, ['name' => 'Новый'], false);
        smtp34_settings(['delivery' => 'background']);
        $started = microtime(true);
        $ids = [];
        for ($i = 0; $i < 300; $i++) {
            $ids[] = smtp34_journal_resend($row['id']);
        }
        $this->assertLessThan(3.0, microtime(true) - $started, '300 resends return at once: they go through the outbox');
        $this->assertCount(300, array_unique($ids));
        for ($i = 0; $i < 200 && count($server->received()) < 300; $i++) {
            usleep(50_000);
            smtp34_outbox_flush(100);
        }
        $this->assertCount(300, $server->received(), 'every resent letter delivered');
        $this->assertSame(['late@mail.ru'], $server->received()[0]['meta']['rcpt_tos']);
    }

    public function testKeptLettersLeaveWithTheJournalDays(): void
    {
        $server = $this->authServer(['reject-data' => true]);
        $this->account($server, [], false);
        custom_mail('buyer@mail.ru', 's', "b\n", 'From: shop@site.ru');
        $row = smtp34_journal(1)[0];
        $this->assertTrue($row['kept']);
        self::sqlite(ini_get('smtp34.db'), "UPDATE kept_letters SET kept_at = kept_at - 31 * 86400; UPDATE journal SET time = time - 31 * 86400 WHERE id = {$row['id']}");
        smtp34_maintain();
        $this->expectException(Smtp34\Exception::class);
        smtp34_journal_resend($row['id']);
    }
}
