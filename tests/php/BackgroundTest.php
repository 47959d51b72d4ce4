<?php
declare(strict_types=1);

/**
 * delivery = background (SPEC §4): custom_mail() returns once the letter is
 * in the outbox; the process's sender thread delivers it. Against real
 * servers: a slow one, a frozen one (SIGSTOP), one that refuses after
 * true, and CLI processes that end with letters in flight.
 */
final class BackgroundTest extends Smtp34TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        smtp34_settings(['delivery' => 'background']);
    }

    /** The journal row of the last letter once it is no longer `queued`, waiting at most `$seconds`. */
    private function settled(float $seconds = 10): array
    {
        $until = microtime(true) + $seconds;
        do {
            $row = $this->lastJournal();
            if ($row['status'] !== 'queued') {
                return $row;
            }
            usleep(20_000);
        } while (microtime(true) < $until);
        $this->fail('still queued after ' . $seconds . ' s: ' . json_encode($row));
    }

    /** The server got one letter for each of reader0..reader<n-1>@mail.ru, each once; returns them. */
    private function eachReaderOnce(SmtpServer $server, int $n): array
    {
        $received = $server->received();
        $recipients = array_map(static fn ($l) => $l['meta']['rcpt_tos'][0], $received);
        sort($recipients);
        $expected = array_map(static fn ($i) => "reader$i@mail.ru", range(0, $n - 1));
        sort($expected);
        $this->assertSame($expected, $recipients, 'each letter once');
        return $received;
    }

    /** Waits until the sender thread has tried every letter once and holds none. */
    private function idle(float $seconds = 10): void
    {
        $untried = static fn ($l) => $l['sending'] || ($l['attempts'] === 0 && $l['last_error'] === '');
        $until = microtime(true) + $seconds;
        while (array_filter(smtp34_outbox_list(), $untried) !== [] && microtime(true) < $until) {
            usleep(20_000);
        }
    }

    public function testAPageReturnsBeforeTheServerAnswersAndTheLetterIsSentAfter(): void
    {
        $server = $this->authServer(['slow-data' => '1.5']);
        $this->account($server);
        $started = microtime(true);
        $this->assertTrue(custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'));
        $took = microtime(true) - $started;
        $this->assertLessThan(0.2, $took, 'the page does not wait for the server');
        $this->assertSame('queued', $this->lastJournal()['status']);

        $row = $this->settled();
        $this->assertSame('sent', $row['status'], $row['reply']);
        $this->assertStringStartsWith('250 ', $row['reply']);
        $this->assertSame(['buyer@mail.ru'], $server->only()['meta']['rcpt_tos']);
        $this->assertSame([], smtp34_outbox_list());
    }

    public function testAFrozenServerNeverHoldsAPageAndEveryLetterGoesWhenItWakes(): void
    {
        $server = $this->authServer();
        $this->account($server);
        smtp34_settings(['timeout' => 1]);
        $pid = (int) trim((string) shell_exec('pgrep -f ' . escapeshellarg("smtp_server.py --spool $server->spool")));
        $this->assertGreaterThan(0, $pid);
        posix_kill($pid, SIGSTOP);
        try {
            $slowest = 0.0;
            for ($i = 0; $i < 5; $i++) {
                $started = microtime(true);
                $this->assertTrue(custom_mail("buyer$i@mail.ru", "Заказ $i", "b\n", 'From: shop@site.ru'));
                $slowest = max($slowest, microtime(true) - $started);
            }
            $this->assertLessThan(0.2, $slowest, 'no page waits for a frozen server');
            $this->idle();
        } finally {
            posix_kill($pid, SIGCONT);
        }
        $this->assertCount(5, smtp34_outbox_list(), 'all five wait in the outbox');
        $report = smtp34_outbox_flush(100, true);
        $this->assertSame([5, 0, 0], [$report['sent'], $report['failed'], $report['left']]);
        $received = array_merge(...array_map(static fn ($l) => $l['meta']['rcpt_tos'], $server->received()));
        sort($received);
        $this->assertSame(['buyer0@mail.ru', 'buyer1@mail.ru', 'buyer2@mail.ru', 'buyer3@mail.ru', 'buyer4@mail.ru'], $received, 'each once');
    }

    /**
     * A letter is handed to the sender thread in memory, claimed for it as it is written; while the
     * thread is held by a frozen server, an admin drops the second one from the outbox: it never goes.
     */
    public function testALetterDroppedWhileHandedToTheThreadIsNotSent(): void
    {
        $server = $this->authServer();
        $this->account($server);
        smtp34_settings(['timeout' => 3]);
        $pid = (int) trim((string) shell_exec('pgrep -f ' . escapeshellarg("smtp_server.py --spool $server->spool")));
        posix_kill($pid, SIGSTOP);
        try {
            $this->assertTrue(custom_mail('first@mail.ru', 'Первое', "b\n", 'From: shop@site.ru'));
            usleep(300_000);   // the thread has taken the first and waits for the greeting
            $this->assertTrue(custom_mail('second@mail.ru', 'Второе', "b\n", 'From: shop@site.ru'));
            $second = $this->waiting('second@')[0];
            $this->assertTrue($second['sending'], 'claimed for the thread as it was written');
            // for a minute and two timeouts only: a killed worker's handed letters are due again soon
            $claim = ChildPhp::run(sprintf('echo (new PDO(%s))->query("SELECT claim_until - strftime(\'%%s\', \'now\') FROM outbox WHERE id = %d")->fetchColumn();',
                var_export('sqlite:' . ini_get('smtp34.db'), true), $second['id']), [], [], false);
            $this->assertEqualsWithDelta(60 + 2 * 3, (int) $claim['stdout'], 3, $claim['stderr']);
            $this->assertTrue(smtp34_outbox_delete($second['id']));
        } finally {
            posix_kill($pid, SIGCONT);
        }
        $this->idle();
        $first = smtp34_outbox_flush(10, true);
        $this->assertSame(0, $first['left']);
        $received = array_merge(...array_map(static fn ($l) => $l['meta']['rcpt_tos'], $server->received()));
        $this->assertSame(['first@mail.ru'], $received, 'the dropped letter never went');
        $this->assertStringContainsString('deleted from the outbox by an admin', $this->lastJournal()['reply']);
    }

    public function testASettingSavedByAnotherProcessReachesThisPagesNextLetter(): void
    {
        $server = $this->authServer();
        $this->account($server);
        $this->assertTrue(custom_mail('first@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'));
        $this->assertSame('sent', $this->settled()['status']);
        // the page writes its next letter with the configuration it read for the first one,
        // confirmed in the same transaction: the change must reach it all the same
        $change = ChildPhp::run("smtp34_settings(['delivery' => 'wait']);", self::sharedIni());
        $this->assertSame(0, $change['code'], $change['stderr']);
        $this->assertTrue(custom_mail('second@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'));
        $row = $this->lastJournal();
        $this->assertSame('sent', $row['status'], 'sent before custom_mail() returned, as delivery = wait does: ' . $row['reply']);
        $this->assertCount(2, $server->received());
    }

    public function testAnAccountSavedByAnotherProcessTakesThisPagesNextLetter(): void
    {
        $server = $this->authServer();
        smtp34_settings(['fallback' => 'none']);
        $this->assertFalse(custom_mail('first@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'), 'no account yet');
        $this->assertSame('refused', $this->lastJournal()['status']);
        $save = ChildPhp::run(self::saveAccountCode($server), self::sharedIni());
        $this->assertSame(0, $save['code'], $save['stderr']);
        $this->assertTrue(custom_mail('second@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'));
        $row = $this->settled();
        $this->assertSame('sent', $row['status'], $row['reply']);
        $this->assertSame(['second@mail.ru'], $server->only()['meta']['rcpt_tos']);
    }

    public function testARefusalAfterTrueIsJournaledFailedLikeABounce(): void
    {
        $server = $this->authServer(['reject-rcpt' => 'nobody']);
        $this->account($server);
        $this->assertTrue(custom_mail('nobody@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'), 'true: the letter is in the outbox');
        $row = $this->settled();
        $this->assertSame('failed', $row['status']);
        $this->assertStringContainsString('550', $row['reply']);
        $this->assertSame([], smtp34_outbox_list());
    }

    public function testACliScriptThatEndsWithLettersInFlightLosesNothing(): void
    {
        $server = $this->authServer();
        $ini = ChildPhp::freshIni();
        $result = ChildPhp::run(self::saveAccountCode($server) . <<<'PHP'
            smtp34_settings(['enabled' => true]);
            $slowest = 0;
            for ($i = 0; $i < 20; $i++) {
                $started = hrtime(true);
                custom_mail("reader$i@mail.ru", "Новости $i", "b\n", 'From: shop@site.ru');
                $slowest = max($slowest, hrtime(true) - $started);
            }
            echo json_encode(['queued' => count(smtp34_outbox_list()), 'slowest_ms' => $slowest / 1e6]);
            PHP, $ini);
        $this->assertSame(0, $result['code'], $result['stderr']);
        $this->assertLessThan(50, json_decode($result['stdout'], true)['slowest_ms'], $result['stdout']);
        // the process ended only after its sender thread delivered everything
        $this->assertCount(20, $server->received());
        $after = ChildPhp::run('echo json_encode([count(smtp34_outbox_list()), array_count_values(array_column(smtp34_journal(50), "status"))]);', $ini);
        $this->assertSame('[0,{"sent":20}]', $after['stdout'], $after['stderr']);
    }

    public function testAThreadCutOffAtShutdownLeavesItsLettersToTheNextFlush(): void
    {
        // the server takes 3 s to accept a letter; the process may wait 1 s at its end
        $server = $this->authServer(['slow-data' => '3']);
        $ini = ChildPhp::freshIni();
        $result = ChildPhp::run(self::saveAccountCode($server) . <<<'PHP'
            smtp34_settings(['enabled' => true, 'timeout' => 1]);
            var_dump(custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'));
            $GLOBALS['ended_at'] = microtime(true);
            PHP, $ini);
        $this->assertSame("bool(true)\n", $result['stdout'], $result['stderr']);
        $this->assertLessThan(2.5, $result['seconds'], 'the end of the process waited one timeout, not the server');

        // released, not claimed by a dead thread: the next flush sends it at once
        $flush = ChildPhp::run('smtp34_settings(["timeout" => 10]); echo json_encode(smtp34_outbox_flush(10, false)), "|", smtp34_journal(1)[0]["status"];', $ini);
        $this->assertSame(0, $flush['code'], $flush['stderr']);
        [$report, $status] = explode('|', $flush['stdout']);
        $this->assertSame(1, json_decode($report, true)['sent'], $flush['stdout']);
        $this->assertSame('sent', $status);
        // the cut-off attempt may have reached the server too: its fate was unknown, so it went again
        $this->assertContains(count($server->received()), [1, 2]);
    }

    /** The files a child's database keeps letters in, and which of them hold `$needle`. @return array<string, bool> */
    private static function filesHolding(string $db, string $needle): array
    {
        $found = [];
        foreach (array_merge(["$db", "$db-wal"], glob("$db-spool/*") ?: []) as $file) {
            if (is_file($file)) {
                $found[basename($file)] = str_contains((string) file_get_contents($file), $needle);
            }
        }
        return $found;
    }

    public function testALettersBytesLeaveTheDiskOnceItIsSent(): void
    {
        // a page's letter goes to its process's spool file, its row names where; once sent and the
        // thread idle, nothing on disk holds it, and the file goes with the process
        $server = $this->authServer();
        $ini = ChildPhp::freshIni();
        $db = $ini['smtp34.db'];
        $marker = 'Секретная-накладная-' . bin2hex(random_bytes(4));
        $result = ChildPhp::run(self::saveAccountCode($server) . sprintf(<<<'PHP'
            smtp34_settings(['enabled' => true]);
            custom_mail('buyer@mail.ru', 'Заказ', "Ваш код: %s\n", 'From: shop@site.ru');
            $spooled = array_map('filesize', glob(%s . '-spool/*.spool'));
            for ($i = 0; $i < 500 && smtp34_journal(1)[0]['status'] === 'queued'; $i++) {
                usleep(10_000);
            }
            usleep(300_000); // the thread falls idle
            clearstatcache();
            echo json_encode(['spooled' => $spooled, 'status' => smtp34_journal(1)[0]['status'], 'left' => array_map('filesize', glob(%s . '-spool/*.spool'))]);
            PHP, $marker, var_export($db, true), var_export($db, true)), $ini);
        $this->assertSame(0, $result['code'], $result['stderr']);
        $seen = json_decode($result['stdout'], true);
        $this->assertSame('sent', $seen['status'], $result['stdout']);
        $this->assertCount(1, $seen['spooled'], 'the letter was spooled: ' . $result['stdout']);
        $this->assertGreaterThan(strlen($marker), array_values($seen['spooled'])[0]);
        $this->assertSame([0], array_values($seen['left']), 'emptied once the letter left the outbox');
        $this->assertStringContainsString($marker, $server->only()['raw']);
        $this->assertSame([], glob("$db-spool/*"), 'the process took its spool file with it');
        $this->assertNotContains(true, self::filesHolding($db, $marker), json_encode(self::filesHolding($db, $marker)));
    }

    public function testASpoolDirectoryOthersMayWriteToIsRefusedWithOneWarningAndTheLettersStillGo(): void
    {
        // a directory another user could fill with files of their own is not used: the page says so once
        // in PHP's log, and the letters keep their bytes in the database as before spooling existed
        $server = $this->authServer();
        $ini = ChildPhp::freshIni();
        $db = $ini['smtp34.db'];
        mkdir("$db-spool");
        chmod("$db-spool", 0777);
        $result = ChildPhp::run(self::saveAccountCode($server) . <<<'PHP'
            smtp34_settings(['enabled' => true]);
            $accepted = [];
            for ($i = 0; $i < 3; $i++) {
                $accepted[] = custom_mail("buyer$i@mail.ru", 'Заказ', "Письмо $i\n", 'From: shop@site.ru');
            }
            for ($i = 0; $i < 500 && count(smtp34_journal(3, 0, ['status' => 'sent'])) < 3; $i++) {
                usleep(10_000);
            }
            echo json_encode(['accepted' => $accepted, 'statuses' => array_column(smtp34_journal(3), 'status')]);
            PHP, $ini);
        $this->assertSame(0, $result['code'], $result['stderr']);
        $seen = json_decode($result['stdout'], true);
        $this->assertSame([true, true, true], $seen['accepted'], $result['stdout']);
        $this->assertSame(['sent', 'sent', 'sent'], $seen['statuses'], $result['stdout']);
        $this->assertCount(3, $server->received());
        $this->assertSame(1, substr_count($result['stderr'], 'smtp34: the spool directory'), $result['stderr']);
        $this->assertStringContainsString('is writable by other users', $result['stderr']);
        $this->assertStringContainsString('keep their bytes in the database meanwhile', $result['stderr']);
        $this->assertSame([], glob("$db-spool/*"), 'nothing written into it');
        $ri = (string) shell_exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=' . escapeshellarg(ChildPhp::extension()) . ' -d smtp34.db=' . escapeshellarg($db) . ' --ri smtp34');
        $this->assertStringContainsString("Spool directory => NOT USED: the spool directory $db-spool is writable by other users", $ri);
        chmod("$db-spool", 0700);
        $ri = (string) shell_exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=' . escapeshellarg(ChildPhp::extension()) . ' -d smtp34.db=' . escapeshellarg($db) . ' --ri smtp34');
        $this->assertStringContainsString("Spool directory => $db-spool (usable by this user)", $ri);
    }

    public function testAKilledProcessesSpooledLettersAreAdoptedAndSent(): void
    {
        // the server takes 3 s over each letter: the process is killed with all three in its spool
        $server = $this->authServer(['slow-data' => '3']);
        $ini = ChildPhp::freshIni();
        $db = $ini['smtp34.db'];
        $marker = 'Письмо-' . bin2hex(random_bytes(4));
        $result = ChildPhp::run(self::saveAccountCode($server) . sprintf(<<<'PHP'
            smtp34_settings(['enabled' => true]);
            for ($i = 0; $i < 3; $i++) {
                custom_mail("buyer$i@mail.ru", 'Заказ', "%s-$i\n", 'From: shop@site.ru');
            }
            usleep(300_000);
            exec('kill -9 ' . getmypid());
            PHP, $marker), $ini);
        $this->assertContains($result['code'], [9, 137], 'killed: ' . $result['stderr']);
        $holding = self::filesHolding($db, $marker);
        $this->assertSame([false, false, true], array_values($holding), 'only the dead process\'s spool holds the letters: ' . json_encode($holding));

        // as if the dead thread's claims had lapsed (a time past: a handed letter is due when its claim lapses);
        // maintenance adopts the spool, then flushes
        $expire = sprintf('(new PDO(%s))->exec("UPDATE outbox SET claim_until = 1, next_try_at = 1");', var_export("sqlite:$db", true));
        $this->assertSame(0, ChildPhp::run($expire, [], [], false)['code']);
        $maintained = ChildPhp::run('smtp34_settings(["timeout" => 10]); echo json_encode(smtp34_maintain()["flushed"]), "|", json_encode(array_column(smtp34_journal(3), "status"));', $ini);
        $this->assertSame(0, $maintained['code'], $maintained['stderr']);
        [$flushed, $statuses] = explode('|', $maintained['stdout']);
        $this->assertSame(3, json_decode($flushed, true)['sent'], $maintained['stdout']);
        $this->assertSame(['sent', 'sent', 'sent'], json_decode($statuses, true));
        $this->assertSame([], glob("$db-spool/*"), 'adopted: the dead process\'s file is gone');
        $got = array_map(static fn ($l) => $l['meta']['rcpt_tos'][0], $server->received());
        $this->assertSame(['buyer0@mail.ru', 'buyer1@mail.ru', 'buyer2@mail.ru'], array_values(array_unique($got)), 'none lost');
        $this->assertLessThanOrEqual(4, count($got), 'only the letter whose fate was unknown may come twice');
        foreach ($server->received() as $letter) {
            $this->assertMatchesRegularExpression("/$marker-[012]\r\n/", $letter['raw'], 'each letter whole');
        }
    }

    public function testAnIdleThreadEmptiesItsSpoolOnceAnotherProcessSentItsLetters(): void
    {
        // the thread is 2 s inside its first letter's DATA while the page queues three more; another
        // flusher takes those three over (as after a lapsed handover claim) and holds them past the
        // moment the thread falls idle; once it has sent them, the idle thread empties its spool
        $flag = tempnam(sys_get_temp_dir(), 'smtp34-slow-');
        $server = $this->authServer(['slow-data' => '2', 'misbehave-while' => $flag]);
        $ini = ChildPhp::freshIni();
        $db = $ini['smtp34.db'];
        [$queued, $done] = ["$db.queued", "$db.done"];
        $child = ChildPhp::start(self::saveAccountCode($server) . sprintf(<<<'PHP'
            smtp34_settings(['enabled' => true]);
            custom_mail('first@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru');
            usleep(300_000);
            for ($i = 1; $i <= 3; $i++) {
                custom_mail("reader$i@mail.ru", 'Заказ', "письмо $i\n", 'From: shop@site.ru');
            }
            touch(%s);
            for ($i = 0; $i < 300 && !file_exists(%s); $i++) {
                usleep(20_000);
            }
            PHP, var_export($queued, true), var_export($done, true)), $ini, [], true, 30);
        for ($i = 0; $i < 250 && !file_exists($queued); $i++) {
            usleep(20_000);
        }
        $this->assertFileExists($queued, 'the page queued its letters');
        $pdo = new PDO("sqlite:$db");
        $taken = $pdo->exec("UPDATE outbox SET claimed_by = 'another-flusher', claim_until = strftime('%s', 'now') + 300
            WHERE journal_id IN (SELECT id FROM journal WHERE recipients LIKE 'reader%')");
        $this->assertSame(3, $taken);
        unlink($flag);
        $spoolSize = static function () use ($db): int {
            clearstatcache();
            return array_sum(array_map('filesize', glob("$db-spool/*.spool")));
        };
        // the thread sent its first letter and fell idle; the other flusher's letters still name the file
        for ($i = 0; $i < 150 && count($server->received()) < 1; $i++) {
            usleep(20_000);
        }
        usleep(500_000);
        $this->assertGreaterThan(0, $spoolSize(), 'rows still name the spool: its bytes stay');
        $pdo->exec("DELETE FROM outbox WHERE claimed_by = 'another-flusher'");
        for ($i = 0; $i < 150 && $spoolSize() > 0; $i++) {
            usleep(20_000);
        }
        $this->assertSame(0, $spoolSize(), 'the idle thread looked again and emptied its spool');
        touch($done);
        $this->assertSame(0, $child()['code']);
        $this->assertSame([], glob("$db-spool/*"));
    }

    /** @dataProvider windowServers */
    public function testTheSenderThreadSendsLettersInWindowsOverKeptConnections(array $options): void
    {
        $server = $this->authServer($options);
        $ini = ChildPhp::freshIni();
        $result = ChildPhp::run(self::saveAccountCode($server) . <<<'PHP'
            smtp34_settings(['enabled' => true]);
            for ($i = 0; $i < 40; $i++) {
                custom_mail("reader$i@mail.ru", "Новости $i", "b\n", 'From: shop@site.ru');
            }
            PHP, $ini);
        $this->assertSame(0, $result['code'], $result['stderr']);
        $received = $this->eachReaderOnce($server, 40);
        // one connection, or up to three at once when the server took 2 ms or more a letter (aiosmtpd with BDAT may)
        $connections = count(array_unique(array_map(static fn ($l) => $l['meta']['connection'], $received)));
        $this->assertLessThanOrEqual(3, $connections, 'over kept connections, not one a letter');
        preg_match_all('/send (\d+) letters in one window: (\d+) sent/', (string) file_get_contents($ini['smtp34.log_dir'] . '/send_1.log'), $windows);
        $this->assertSame(40, array_sum($windows[2]), 'every letter went in a window');
        $this->assertGreaterThan(1, max(array_map('intval', $windows[1])), 'letters queued meanwhile went together');
    }

    /**
     * A server a round trip away: one connection carries a letter a round
     * trip (its DATA waits for 354), so the thread's windows go over three
     * connections at once; a server that takes only one connection answers
     * the extra ones 421, which is not the account failing.
     *
     * @dataProvider connectionCaps
     */
    public function testAFarServersLettersGoOverSeveralConnectionsAtOnce(array $options, int $connections): void
    {
        $server = $this->authServer(['pipelining' => true] + $options);
        $far = new DelayProxy($server->port, 20);
        $ini = ChildPhp::freshIni();
        $started = microtime(true);
        $result = ChildPhp::run(self::saveAccountCode($server, $far->port) . self::$far, $ini);
        $took = microtime(true) - $started;
        $this->assertSame(0, $result['code'], $result['stderr']);
        [$statuses, $failures, $lastError] = json_decode($result['stdout'], true);
        $this->assertSame(['sent' => 120], $statuses, $result['stdout']);
        $this->assertSame([0, ''], [$failures, $lastError], 'a refused extra connection is not the account failing');

        $received = $this->eachReaderOnce($server, 120);
        $used = count(array_unique(array_map(static fn ($l) => $l['meta']['connection'], $received)));
        $log = (string) file_get_contents($ini['smtp34.log_dir'] . '/send_1.log');
        if ($connections > 1) {
            $this->assertGreaterThan(1, $used, 'over several connections');
            $this->assertStringContainsString('(connection 3 of 3)', $log);
            // one connection needs a round trip a letter: 120 x 20 ms = 2.4 s
            $this->assertLessThan(2.4, $took, 'faster than one connection can be');
        } else {
            $this->assertStringContainsString('421', $log, 'the refusal is in the log');
        }
    }

    public static function connectionCaps(): array
    {
        return ['any number' => [[], 3], 'one at a time' => [['max-connections' => 1], 1]];
    }

    /** A child's mailing through the account it saved first; prints its journal statuses and the account's health. */
    private static string $far = <<<'PHP'
        smtp34_settings(['enabled' => true, 'delivery' => 'background']);
        for ($i = 0; $i < 120; $i++) {
            custom_mail("reader$i@mail.ru", "Новости $i", "b\n", 'From: shop@site.ru');
        }
        $statuses = [];
        for ($until = microtime(true) + 30; microtime(true) < $until; usleep(20_000)) {
            $statuses = array_count_values(array_column(smtp34_journal(200), 'status'));
            if (!isset($statuses['queued'])) {
                break;
            }
        }
        $account = smtp34_account_get(1);
        echo json_encode([$statuses, $account['failures'], $account['last_error']]);
        PHP;

    public static function windowServers(): array
    {
        return ['PIPELINING' => [['pipelining' => true]], 'PIPELINING and CHUNKING' => [['pipelining' => true, 'chunking' => true]]];
    }
}
