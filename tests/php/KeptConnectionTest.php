<?php
declare(strict_types=1);

/**
 * Connections kept per account across custom_mail() calls: reused while the
 * settings allow, replaced when found dead before the server took anything
 * (so no letter is lost or sent twice), PIPELINING when the server offers it.
 * The test server records the client port of the connection each letter came on.
 */
final class KeptConnectionTest extends Smtp34TestCase
{
    /** @return list<int> the connection (client port) of each letter received */
    private static function connections(SmtpServer $server): array
    {
        return array_map(static fn ($l) => $l['meta']['connection'], $server->received());
    }

    private function sendFive(): void
    {
        for ($i = 0; $i < 5; $i++) {
            $this->assertTrue(custom_mail("u$i@mail.ru", "letter $i", "body $i\n", 'From: shop@site.ru'), "letter $i");
        }
    }

    public function testLettersShareOneConnectionPerAccount(): void
    {
        $server = $this->authServer();
        $this->account($server, [], false);

        $this->sendFive();

        $this->assertCount(5, $server->received());
        $this->assertCount(1, array_unique(self::connections($server)), 'one connection for five letters');
        $this->assertSame(['sent'], array_values(array_unique(array_column(smtp34_journal(5), 'status'))));
        $this->assertSame(['u0@mail.ru', 'u1@mail.ru', 'u2@mail.ru', 'u3@mail.ru', 'u4@mail.ru'],
            array_map(static fn ($l) => $l['meta']['rcpt_tos'][0], $server->received()));
    }

    public function testAFrozenServerCostsOneTimeoutNotTwo(): void
    {
        $server = $this->authServer();
        $this->account($server, [], false);
        smtp34_settings(['timeout' => 1]);
        $this->assertTrue(custom_mail('u0@mail.ru', 'first', "b\n", 'From: shop@site.ru'), 'a connection is kept');
        $pid = (int) trim((string) shell_exec('pgrep -f ' . escapeshellarg("smtp_server.py --spool $server->spool")));
        posix_kill($pid, SIGSTOP);
        try {
            $started = microtime(true);
            $this->assertTrue(custom_mail('u1@mail.ru', 'second', "b\n", 'From: shop@site.ru'), 'it waits in the outbox');
            $took = microtime(true) - $started;
        } finally {
            posix_kill($pid, SIGCONT);
        }
        $this->assertLessThan(1.8, $took, 'the kept connection timed out: no fresh connection to the same frozen server');
        $this->assertSame('queued', $this->lastJournal()['status']);
        $this->assertStringContainsString('timed out after 1s', $this->lastJournal()['reply']);
    }

    public function testLettersPerConnectionAndKeepaliveSecondsAreHonoured(): void
    {
        $capped = $this->authServer();
        $this->account($capped, [], false);
        smtp34_settings(['letters_per_connection' => 2]);
        $this->sendFive();
        $this->assertCount(3, array_unique(self::connections($capped)), 'a new connection every two letters');

        $kept = $this->authServer();
        $this->account($kept, ['email' => 'other@site.ru'], false);
        smtp34_settings(['letters_per_connection' => 100, 'keepalive_seconds' => 0]);
        for ($i = 0; $i < 3; $i++) {
            $this->assertTrue(custom_mail("v$i@mail.ru", 's', "b\n", 'From: other@site.ru'));
        }
        $this->assertCount(3, array_unique(self::connections($kept)), 'keepalive_seconds 0 keeps none');
    }

    public function testAnAccountChangeOrANewTimeoutOpensANewConnection(): void
    {
        $server = $this->authServer();
        $id = $this->account($server, [], false);
        $this->assertTrue(custom_mail('a@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        smtp34_account_save(['id' => $id, 'name' => 'Новое имя'], false);
        $this->assertTrue(custom_mail('b@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertCount(2, array_unique(self::connections($server)));
        smtp34_settings(['timeout' => 7]);
        $this->assertTrue(custom_mail('c@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertTrue(custom_mail('d@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertCount(3, array_unique(self::connections($server)), 'the new timeout applies from the next letter on');
    }

    public function testAServerThatClosesIdleConnectionsLosesNoLetterAndSendsNoneTwice(): void
    {
        $server = $this->authServer(['close-after-letter' => true]);
        $id = $this->account($server, [], false);

        for ($i = 0; $i < 5; $i++) {
            usleep(100000); // the server has closed the kept connection by now
            $this->assertTrue(custom_mail("u$i@mail.ru", 's', "b\n", 'From: shop@site.ru'));
        }

        $this->assertSame(['u0@mail.ru', 'u1@mail.ru', 'u2@mail.ru', 'u3@mail.ru', 'u4@mail.ru'],
            array_map(static fn ($l) => $l['meta']['rcpt_tos'][0], $server->received()), 'each once, in order');
        $this->assertSame(['sent'], array_values(array_unique(array_column(smtp34_journal(5), 'status'))));
        $this->assertStringContainsString('the kept connection was closed by the server', smtp34_log_read("send_$id.log"));
        $this->assertSame(0, smtp34_account_get($id)['failures'], 'a closed idle connection is not a failure');
    }

    public function testPipelinedLettersKeepEveryRecipientsOutcome(): void
    {
        $flag = sys_get_temp_dir() . '/smtp34-misbehave-' . bin2hex(random_bytes(4));
        touch($flag);
        $server = $this->authServer(['pipelining' => true, 'reject-rcpt' => 'nobody', 'defer-rcpt' => 'later', 'misbehave-while' => $flag]);
        $this->account($server, [], false);
        smtp34_settings(['log_level' => 1]);

        $this->assertTrue(custom_mail('a@mail.ru, nobody@mail.ru, later@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertStringContainsString('refused nobody@mail.ru: 550', $this->lastJournal()['reply']);
        $this->assertFalse(custom_mail('nobody@mail.ru', 's', "b\n", 'From: shop@site.ru'), 'every recipient refused: final');
        $this->assertSame('failed', $this->lastJournal()['status']);
        $this->assertTrue(custom_mail('b@mail.ru', 's', "b\n", 'From: shop@site.ru'), 'the connection is still good');
        unlink($flag);
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], smtp34_outbox_flush(100, true));

        $this->assertSame([['a@mail.ru'], ['b@mail.ru'], ['later@mail.ru']], array_map(static fn ($l) => $l['meta']['rcpt_tos'], $server->received()));
        $this->assertCount(1, array_unique(self::connections($server)), 'all on one connection, outbox included');
    }

    public function testWithChunkingALetterGoesWholeInOneRoundTripAndByteExact(): void
    {
        $flag = sys_get_temp_dir() . '/smtp34-misbehave-' . bin2hex(random_bytes(4));
        touch($flag);
        $server = $this->authServer(['pipelining' => true, 'chunking' => true, 'reject-rcpt' => 'nobody', 'defer-rcpt' => 'later', 'misbehave-while' => $flag]);
        $this->account($server, [], false);
        smtp34_settings(['log_level' => 1]);

        // lines that start with a dot: BDAT sends octets as they are, no dot-stuffing
        $body = ".leading dot\r\n..two dots\r\n.\r\nЗдравствуйте!\r\n";
        $this->assertTrue(custom_mail('a@mail.ru', 'Заказ', $body, "From: shop@site.ru\r\nContent-Type: text/plain; charset=UTF-8"));
        $this->assertTrue(custom_mail('a@mail.ru, nobody@mail.ru, later@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertStringContainsString('refused nobody@mail.ru: 550', $this->lastJournal()['reply']);
        $this->assertFalse(custom_mail('nobody@mail.ru', 's', "b\n", 'From: shop@site.ru'), 'every recipient refused: final');
        $this->assertSame('failed', $this->lastJournal()['status']);
        $big = str_repeat("Строка письма, которое больше одного куска в 64 КБ.\r\n", 40000);
        $this->assertTrue(custom_mail('big@mail.ru', 'big', $big, 'From: shop@site.ru'));
        unlink($flag);
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], smtp34_outbox_flush(100, true));

        $received = $server->received();
        $this->assertSame([['a@mail.ru'], ['a@mail.ru'], ['big@mail.ru'], ['later@mail.ru']], array_map(static fn ($l) => $l['meta']['rcpt_tos'], $received));
        $this->assertSame([true, true, true, true], array_map(static fn ($l) => $l['meta']['bdat'], $received), 'every letter went by BDAT');
        $this->assertSame($body, self::split($received[0]['raw'])[1]);
        $this->assertSame($big, self::split($received[2]['raw'])[1]);
        $this->assertCount(1, array_unique(self::connections($server)), 'all on one connection');
        $this->assertMatchesRegularExpression('/CLIENT -> SERVER: BDAT \d+ LAST/', smtp34_log_read('send_' . smtp34_journal(1)[0]['account_id'] . '.log'));
    }

    public function testChunkingWithoutPipeliningKeepsToData(): void
    {
        $server = $this->authServer(['chunking' => true]);
        $this->account($server, [], false);
        $this->assertTrue(custom_mail('a@mail.ru', 's', ".dot\n", 'From: shop@site.ru'));
        $this->assertFalse($server->only()['meta']['bdat'], 'BDAT pays only in a pipelined batch');
        $this->assertSame(".dot\r\n", self::split($server->only()['raw'])[1]);
    }
}
