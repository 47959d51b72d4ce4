<?php
declare(strict_types=1);

/**
 * Nothing lost: real servers that misbehave on purpose (tests/smtp_server.py),
 * the outbox, failover, back-off and daily limits. A server started with
 * 'misbehave-while' => $flag misbehaves while that file exists; removing it
 * is the provider recovering.
 */
final class OutboxTest extends Smtp34TestCase
{
    private function flag(): string
    {
        $flag = sys_get_temp_dir() . '/smtp34-misbehave-' . bin2hex(random_bytes(4));
        touch($flag);
        return $flag;
    }

    private function send(string $to = 'user@mail.ru', string $subject = 's'): bool
    {
        return custom_mail($to, $subject, "body\n", 'From: shop@site.ru');
    }

    /** @return array<string, mixed> the journal row of the letter to $to */
    private function rowFor(string $to): array
    {
        foreach (smtp34_journal(500) as $row) {
            if ($row['recipients'] === $to) {
                return $row;
            }
        }
        $this->fail("no journal row for $to");
    }

    public function testAServerDroppingTheConnectionAfterDataQueuesThenTheLetterArrivesOnce(): void
    {
        $flag = $this->flag();
        $server = $this->authServer(['drop-after-data' => true, 'misbehave-while' => $flag]);
        $this->account($server, [], false);

        $this->assertTrue($this->send());
        $row = $this->lastJournal();
        $this->assertSame('queued', $row['status']);
        $this->assertStringContainsString('closed the connection', $row['reply']);
        $this->assertSame([], $server->received());
        [$waiting] = $this->waiting();
        $this->assertSame(['user@mail.ru', 1, false], [$waiting['recipients'], $waiting['attempts'], $waiting['sending']]);
        $this->assertStringContainsString('closed the connection', $waiting['last_error']);

        $this->assertSame(['sent' => 0, 'failed' => 0, 'left' => 1], smtp34_outbox_flush(), 'not due yet: the next try is a minute away');
        unlink($flag);
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], smtp34_outbox_flush(100, true));
        $this->assertCount(1, $server->received());
        $this->assertSame(['sent' => 0, 'failed' => 0, 'left' => 0], smtp34_outbox_flush(100, true), 'a second flush sends nothing');
        $this->assertCount(1, $server->received());
        $row = $this->rowFor('user@mail.ru');
        $this->assertSame('sent', $row['status']);
        $this->assertStringContainsString('from the outbox: 250 2.0.0 Ok', $row['reply']);
        // the first try's data went out and no reply came: the server might have kept it
        $this->assertStringContainsString("possibly delivered twice: an earlier attempt's fate is unknown", $row['reply']);
        $this->assertTrue(custom_mail('next@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertStringNotContainsString('possibly delivered twice', $this->rowFor('next@mail.ru')['reply'], 'only where the fate was unknown');
    }

    public function test421AtConnectQueuesAndMarksTheAccountFailingUntilItRecovers(): void
    {
        $flag = $this->flag();
        $server = $this->authServer(['greet-421' => true, 'misbehave-while' => $flag]);
        $id = $this->account($server, [], false);

        $this->assertTrue($this->send());
        $this->assertSame('queued', $this->lastJournal()['status']);
        $this->assertStringContainsString("account $id failed: 421 4.3.2", $this->lastJournal()['reply']);
        $account = smtp34_account_get($id);
        $this->assertSame(1, $account['failures']);
        $this->assertStringStartsWith('421 4.3.2', $account['last_error']);
        $this->assertGreaterThan(time(), $account['resting_until']);

        unlink($flag);
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], smtp34_outbox_flush(100, true), 'the flusher probes a resting account');
        $this->assertCount(1, $server->received());
        $account = smtp34_account_get($id);
        $this->assertSame([0, null], [$account['failures'], $account['resting_until']]);
        $this->assertEqualsWithDelta(time(), $account['last_success_at'], 5);
    }

    public function testA451ToOneRecipientSendsTheRestAndThatRecipientWaitsInACopyOfItsOwn(): void
    {
        $flag = $this->flag();
        $server = $this->authServer(['defer-rcpt' => 'later', 'reject-rcpt' => 'nobody', 'misbehave-while' => $flag]);
        $this->account($server, [], false);

        $this->assertTrue($this->send('now@mail.ru, later@mail.ru, nobody@mail.ru'));
        $row = $this->lastJournal();
        $this->assertSame('sent', $row['status']);
        $this->assertStringContainsString('refused nobody@mail.ru: 550 5.1.1', $row['reply']);
        $this->assertStringContainsString('waiting in the outbox for later@mail.ru (later@mail.ru: 451 4.7.1', $row['reply']);
        $this->assertSame(['now@mail.ru'], $server->only()['meta']['rcpt_tos']);
        [$waiting] = $this->waiting();
        $this->assertSame('later@mail.ru', $waiting['recipients']);

        unlink($flag);
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], smtp34_outbox_flush(100, true));
        $letters = $server->received();
        $this->assertCount(2, $letters);
        $this->assertSame(['later@mail.ru'], $letters[1]['meta']['rcpt_tos']);
        $this->assertSame($letters[0]['raw'], $letters[1]['raw'], 'the same letter, byte for byte');
        $row = $this->rowFor('now@mail.ru, later@mail.ru, nobody@mail.ru');
        $this->assertSame('sent', $row['status']);
        $this->assertStringContainsString('; from the outbox: 250 2.0.0 Ok', $row['reply']);
    }

    public function testA535UntilThePasswordIsFixedThenTheLetterGoes(): void
    {
        $server = $this->authServer();
        $id = $this->account($server, ['password' => 'not-the-password'], false);

        $this->assertTrue($this->send());
        $this->assertSame('queued', $this->lastJournal()['status']);
        $this->assertStringStartsWith('535', smtp34_account_get($id)['last_error']);

        $this->assertSame(['sent' => 0, 'failed' => 0, 'left' => 1], smtp34_outbox_flush(100, true), 'still the wrong password');
        $this->assertSame(2, smtp34_account_get($id)['failures']);
        smtp34_account_save(['id' => $id, 'password' => 's3cret-pass'], false);
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], smtp34_outbox_flush(100, true));
        $this->assertSame('shop', $server->only()['meta']['login']);
        $this->assertSame(0, smtp34_account_get($id)['failures']);
        $this->assertSame('sent', $this->rowFor('user@mail.ru')['status']);
    }

    public function testA554ToDataIsFinal(): void
    {
        $server = $this->authServer(['reject-data' => true]);
        $id = $this->account($server, [], false);

        $this->assertFalse($this->send());
        $row = $this->lastJournal();
        $this->assertSame('failed', $row['status']);
        $this->assertStringStartsWith('554 5.7.1 Message rejected as spam', $row['reply']);
        $this->assertSame([], $this->waiting());
        $this->assertSame([], $server->received());
        $this->assertSame(0, smtp34_account_get($id)['failures'], 'the letter was refused, not the account');
    }

    public function testFailoverToTheNextMatchingAccountThenTheFailedOneRests(): void
    {
        $good = $this->authServer();
        $down = $this->authServer();
        $goodId = $this->account($good, ['name' => 'Магазин'], false);
        $downId = $this->account($down, ['name' => 'Магазин'], false); // higher id: routing's choice
        $down->stop();
        $this->assertSame($downId, smtp34_resolve('shop@site.ru'));

        $this->assertTrue($this->send('first@mail.ru'));
        $row = $this->lastJournal();
        $this->assertSame(['sent', $goodId], [$row['status'], $row['account_id']]);
        $this->assertStringContainsString("sent through account $goodId to first@mail.ru: 250", $row['reply']);
        $this->assertStringContainsString("account $downId failed: cannot connect", $row['reply']);
        $this->assertStringContainsString("\r\nFrom: =?UTF-8?B?" . base64_encode('Магазин') . "?= <shop@site.ru>\r\n", $good->only()['raw'],
            'the From gets the sender name of the account routing chose');

        $this->assertTrue($this->send('second@mail.ru'));
        $row = $this->lastJournal();
        $this->assertSame(['sent', $goodId], [$row['status'], $row['account_id']]);
        $this->assertStringContainsString("account $downId rests after failing", $row['reply']);
        $this->assertCount(2, $good->received());
    }

    public function testAHangingServerCostsOneTimeoutOverTwentyLetters(): void
    {
        $silent = $this->server(['silent' => true]);
        $this->account($silent, ['auth' => 'none'], false);
        smtp34_settings(['timeout' => 1]);

        $started = microtime(true);
        for ($i = 0; $i < 20; $i++) {
            $this->assertTrue($this->send("u$i@mail.ru"));
        }
        $elapsed = microtime(true) - $started;
        $this->assertGreaterThan(0.9, $elapsed);
        $this->assertLessThan(2.5, $elapsed, 'one timeout, not twenty');
        $this->assertStringContainsString('timed out after 1s', $this->rowFor('u0@mail.ru')['reply']);
        $this->assertStringContainsString('rests after failing', $this->rowFor('u19@mail.ru')['reply']);
        $this->assertSame(['queued'], array_values(array_unique(array_column(smtp34_journal(20), 'status'))));
        $this->assertCount(20, $this->waiting());

        $started = microtime(true);
        $this->assertSame(['sent' => 0, 'failed' => 0, 'left' => 20], smtp34_outbox_flush(100, true));
        $this->assertLessThan(2.5, microtime(true) - $started, 'a flush probes it once too');
    }

    public function testFourFlushersAtOnceDeliverEachOf200LettersOnce(): void
    {
        $flag = $this->flag();
        $server = $this->authServer(['greet-421' => true, 'misbehave-while' => $flag]);
        $this->account($server, [], false);
        for ($i = 0; $i < 200; $i++) {
            $this->assertTrue($this->send("u$i@mail.ru"));
        }
        $this->assertCount(200, $this->waiting());
        unlink($flag);

        $ini = self::sharedIni();
        $flushers = array_map(static fn () => ChildPhp::start('echo json_encode(smtp34_outbox_flush(100, true));', $ini), range(1, 4));
        $sent = 0;
        foreach ($flushers as $wait) {
            $result = $wait();
            $this->assertSame(0, $result['code'], $result['stderr']);
            $sent += json_decode($result['stdout'], true)['sent'];
        }

        $this->assertSame(200, $sent);
        $recipients = array_merge(...array_map(static fn ($l) => $l['meta']['rcpt_tos'], $server->received()));
        $this->assertCount(200, $recipients);
        $this->assertCount(200, array_unique($recipients), 'each letter delivered once');
        $this->assertSame([], $this->waiting());
        $this->assertSame(['sent'], array_values(array_unique(array_column(smtp34_journal(200), 'status'))));
    }

    public function testTheDailyLimitHoldsAcrossTwoProcesses(): void
    {
        $server = $this->authServer();
        $id = $this->account($server, ['daily_limit' => 3], false);
        $ini = self::sharedIni();
        $code = 'for ($i = 0; $i < 3; $i++) { var_dump(custom_mail("p" . getmypid() . "-$i@mail.ru", "s", "b\n", "From: shop@site.ru")); }';

        $workers = [ChildPhp::start($code, $ini), ChildPhp::start($code, $ini)];
        foreach ($workers as $wait) {
            $result = $wait();
            $this->assertSame(0, $result['code'], $result['stderr']);
            $this->assertSame(3, substr_count($result['stdout'], 'bool(true)'), 'over the limit the letter waits: still true');
        }

        $this->assertCount(3, $server->received());
        $this->assertSame(3, smtp34_account_get($id)['sent_today']);
        $statuses = array_count_values(array_column(smtp34_journal(6), 'status'));
        ksort($statuses);
        $this->assertSame(['queued' => 3, 'sent' => 3], $statuses);
        $waiting = $this->waiting();
        $this->assertCount(3, $waiting);
        foreach ($waiting as $letter) {
            $this->assertStringContainsString("account $id reached its daily limit (3 of 3", $letter['last_error']);
            $this->assertGreaterThan(time(), $letter['next_try_at']);
            $this->assertSame(date('Y-m-d', strtotime('tomorrow')), date('Y-m-d', $letter['next_try_at']), 'tomorrow, local time');
        }
        $this->assertSame(['sent' => 0, 'failed' => 0, 'left' => 3], smtp34_outbox_flush(100, true), 'still today');
    }

    public function testMinuteAndHourLimitsFailOverThenQueueAndReleaseWhenTheWindowOpens(): void
    {
        $first = $this->authServer();
        $second = $this->authServer();
        if ((int) date('s') > 45) {
            sleep(61 - (int) date('s'));   // the four letters below go within one minute (and one hour)
        }
        $limited = $this->account($first, ['minute_limit' => 2, 'hourly_limit' => 3], false);
        $spare = $this->account($second, ['name' => 'Запасной', 'hourly_limit' => 1], false);
        smtp34_settings(['enabled' => true, 'delivery' => 'wait']);
        $send = fn (string $to) => custom_mail($to, 's', "b\n", 'From: shop@site.ru');
        $to = static fn (SmtpServer $server) => array_merge(...array_map(static fn ($l) => $l['meta']['rcpt_tos'], $server->received()));

        // accounts are tried highest id first: the spare takes one, then its hour is full
        foreach (['a@mail.ru', 'b@mail.ru', 'c@mail.ru', 'd@mail.ru'] as $recipient) {
            $this->assertTrue($send($recipient));
        }
        $this->assertSame(['a@mail.ru'], $to($second));
        $this->assertSame(['b@mail.ru', 'c@mail.ru'], $to($first), 'two a minute');
        [$waiting] = $this->waiting();
        $this->assertSame('d@mail.ru', $waiting['recipients']);
        $this->assertStringContainsString("account $limited reached its per-minute limit (2 of 2 recipients this minute)", $waiting['last_error']);
        $this->assertStringContainsString("account $spare reached its hourly limit (1 of 1 recipients this hour)", $waiting['last_error']);
        $this->assertLessThanOrEqual((intdiv(time(), 60) + 1) * 60, $waiting['next_try_at'], 'it waits for the next minute, not the next day');
        $account = smtp34_account_get($limited);
        $this->assertSame([2, 2, 2], [$account['sent_this_minute'], $account['sent_this_hour'], $account['sent_today']]);
        $this->assertSame(['sent' => 0, 'failed' => 0, 'left' => 1], smtp34_outbox_flush(100, true), 'the same minute: still full');

        // the minute passes (the window's start moved back a minute)
        self::sqlite(ini_get('smtp34.db'), 'UPDATE rate_usage SET start = start - 60 WHERE period = 60');
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], smtp34_outbox_flush(100, true));
        $this->assertSame(['b@mail.ru', 'c@mail.ru', 'd@mail.ru'], $to($first));
        // and now its hour (3) is full: the next letter waits for the next hour
        $this->assertTrue($send('e@mail.ru'));
        [$waiting] = $this->waiting();
        $this->assertStringContainsString('reached its hourly limit (3 of 3 recipients this hour)', $waiting['last_error']);
    }

    public function testALetterIsGivenUpAfterOutboxMaxHours(): void
    {
        $server = $this->authServer();
        $this->account($server, [], false);
        $server->stop();
        $this->assertTrue($this->send());
        [$waiting] = $this->waiting();

        // 49 hours later
        self::sqlite(ini_get('smtp34.db'), "UPDATE outbox SET created_at = created_at - 49 * 3600 WHERE id = {$waiting['id']}");

        $this->assertSame(['sent' => 0, 'failed' => 1, 'left' => 0], smtp34_outbox_flush(100, true));
        $row = $this->rowFor('user@mail.ru');
        $this->assertSame('failed', $row['status']);
        $this->assertStringStartsWith('given up after 48 h in the outbox: cannot connect to 127.0.0.1', $row['reply']);
    }

    public function testTheListShowsWhatWaitsAndAnAdminMayDropALetter(): void
    {
        $server = $this->authServer();
        $id = $this->account($server, [], false);
        $server->stop();
        $this->assertTrue(custom_mail('a@mail.ru', Letters::subject('Заказ 42'), "body\n", "From: shop@site.ru\r\nX-Smtp34-Mailing: 7", '-fbounce@site.ru'));

        [$letter] = smtp34_outbox_list();
        $this->assertSame(['id', 'journal_id', 'created_at', 'account_id', 'mailing', 'from', 'recipients', 'subject', 'size',
            'attempts', 'next_try_at', 'last_try_at', 'last_error', 'sending'], array_keys($letter));
        $this->assertSame([$id, true, 'shop@site.ru', 'a@mail.ru', 'Заказ 42', 1, false],
            [$letter['account_id'], $letter['mailing'], $letter['from'], $letter['recipients'], $letter['subject'], $letter['attempts'], $letter['sending']]);
        $this->assertGreaterThan(100, $letter['size']);
        $this->assertEqualsWithDelta(time() + 60, $letter['next_try_at'], 5);
        $this->assertSame($this->lastJournal()['id'], $letter['journal_id']);

        $this->assertTrue(smtp34_outbox_delete($letter['id']));
        $this->assertFalse(smtp34_outbox_delete($letter['id']));
        $this->assertSame([], smtp34_outbox_list());
        $row = $this->lastJournal();
        $this->assertSame('failed', $row['status']);
        $this->assertStringStartsWith('deleted from the outbox by an admin', $row['reply']);
    }

    public function testAWorkerKilledMidLetterLeavesAnInterruptedRowAndTheLetterIsRetried(): void
    {
        $silent = $this->server(['silent' => true]);
        $good = $this->authServer();
        $id = $this->account($silent, ['auth' => 'none'], false);
        $ini = self::sharedIni();
        $worker = proc_open([PHP_BINARY, '-n', '-d', 'extension=' . ChildPhp::extension(), ...array_merge(...array_map(
            static fn ($k, $v) => ['-d', "$k=$v"], array_keys($ini), $ini)), '-r',
            'custom_mail("user@mail.ru", "s", "b\n", "From: shop@site.ru");'], [], $pipes);
        for ($i = 0; $i < 100 && ($this->lastJournal()['status'] ?? '') !== 'sending'; $i++) {
            usleep(50000);
        }
        $this->assertSame('sending', $this->lastJournal()['status'], 'the row is written before the conversation');
        proc_terminate($worker, 9);
        proc_close($worker);
        [$waiting] = $this->waiting();
        $this->assertTrue($waiting['sending'], 'its claim still holds');

        // the claim lapses: it holds as long as a whole conversation may take,
        // and the letter is due for a flusher from then on (a lapsed claim is a
        // time in the past; 0 is a letter never claimed, or released)
        self::sqlite(ini_get('smtp34.db'), 'UPDATE outbox SET claim_until = 1, next_try_at = 0');
        $this->assertSame('interrupted', $this->lastJournal()['status']);

        smtp34_account_save(['id' => $id, 'port' => $good->port, 'auth' => 'login', 'login' => 'shop', 'password' => 's3cret-pass'], false);
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], smtp34_outbox_flush());
        $this->assertCount(1, $good->received());
        $this->assertSame('sent', $this->lastJournal()['status']);
    }
}
