<?php
declare(strict_types=1);

/**
 * Alerts (SPEC §10) raised by smtp34_maintain() against real servers: a
 * local webhook receiver (tests/webhook_server.py) and aiosmtpd for the
 * alert emails; once an hour per (event, account), failing then recovered.
 */
final class AlertTest extends Smtp34TestCase
{
    /** @var list<resource> */
    private array $webhooks = [];

    protected function setUp(): void
    {
        parent::setUp();
        // what earlier tests left in the journal is not news: the first run only reads what comes after it
        smtp34_settings(['alert_email' => '', 'alert_webhook' => '']);
        smtp34_maintain();
        self::sqlite(ini_get('smtp34.db'), 'DELETE FROM alert_state; DELETE FROM outbox;');
    }

    protected function tearDown(): void
    {
        foreach ($this->webhooks as $process) {
            proc_terminate($process, 9);
            proc_close($process);
        }
        smtp34_settings(['alert_email' => '', 'alert_webhook' => '', 'alert_after_failures' => 3]);
        parent::tearDown();
    }

    /** A webhook receiver: its URL and the file its POSTs go to. */
    private function webhook(array $options = []): array
    {
        $file = sys_get_temp_dir() . '/smtp34-webhook-' . bin2hex(random_bytes(4));
        $process = proc_open(['/usr/bin/python3', __DIR__ . '/../webhook_server.py', $file, ...$options], [1 => ['pipe', 'w']], $pipes);
        $this->webhooks[] = $process;
        preg_match('/READY (\d+)/', (string) fgets($pipes[1]), $m);
        return ["http://127.0.0.1:{$m[1]}/hooks/T0/secret-path", $file];
    }

    private static function posts(string $file): array
    {
        return is_file($file) ? array_map(static fn ($l) => json_decode($l, true), file($file, FILE_IGNORE_NEW_LINES)) : [];
    }

    public function testAFailingAccountAlertsTheWebhookAndTheMailboxOnceThenRecovers(): void
    {
        [$url, $posts] = $this->webhook();
        $down = $this->authServer();
        $mailbox = $this->authServer();
        $failing = $this->account($down, ['email' => 'shop@site.ru'], false);
        $this->account($mailbox, ['email' => 'robot@other.ru', 'name' => 'Робот'], false);
        $down->stop();
        $settings = smtp34_settings(['alert_email' => 'admin@site.ru, boss@site.ru', 'alert_webhook' => $url, 'alert_after_failures' => 2]);
        $rest = static fn () => self::sqlite(ini_get('smtp34.db'), 'UPDATE account_health SET backoff_until = 0');
        $this->assertStringNotContainsString('secret-path', json_encode($settings), 'the webhook is a secret');
        $this->assertMatchesRegularExpression('#^http://127\.0\.0\.1:\d+/•••$#', $settings['alert_webhook']);
        $this->assertSame($settings['alert_webhook'], smtp34_settings(['alert_webhook' => $settings['alert_webhook']])['alert_webhook'], 'the masked value sent back keeps it');
        $this->assertStringNotContainsString('secret-path', shell_exec('php -d extension=' . escapeshellarg((string) getenv('SMTP34_EXTENSION')) . ' --ri smtp34') ?? '');

        $this->assertTrue(custom_mail('a@mail.ru', 'Первое', "b\n", 'From: shop@site.ru'));
        $this->assertSame([], smtp34_maintain()['alerts'], 'one failure is below alert_after_failures');
        $rest();   // its rest after the failure over: the next letter tries it again
        $this->assertTrue(custom_mail('b@mail.ru', 'Второе', "b\n", 'From: shop@site.ru'));
        $this->assertSame(2, smtp34_account_get($failing)['failures']);

        $done = smtp34_maintain();
        $this->assertSame(1, $done['alerts_sent']);
        $this->assertSame([['event' => 'account_failing', 'account_id' => $failing]], array_map(static fn ($a) => ['event' => $a['event'], 'account_id' => $a['account_id']], $done['alerts']));
        [$post] = self::posts($posts);
        $this->assertSame(['/hooks/T0/secret-path', 'application/json'], [$post['path'], $post['type']]);
        $body = json_decode($post['body'], true);
        ksort($body);
        $this->assertSame(['account_id', 'event', 'text', 'time'], array_keys($body), 'SPEC §10\'s JSON');
        $this->assertSame(['account_failing', $failing], [$body['event'], $body['account_id']]);
        $this->assertStringContainsString("аккаунт $failing (shop@site.ru) не смог отправить письмо", $body['text']);
        $this->assertEqualsWithDelta(time(), $body['time'], 30);

        // the email goes through the healthy account, not the failing one
        $letters = array_values(array_filter($mailbox->received(), static fn ($l) => in_array('admin@site.ru', $l['meta']['rcpt_tos'], true)));
        $this->assertCount(1, $letters);
        $this->assertSame(['admin@site.ru', 'boss@site.ru'], $letters[0]['meta']['rcpt_tos']);
        $this->assertStringContainsString('From: smtp34 <robot@other.ru>', $letters[0]['raw']);
        $this->assertStringContainsString('не смог отправить письмо', $letters[0]['raw']);

        // within the hour: nothing again, however often maintain runs
        $this->assertSame(0, smtp34_maintain()['alerts_sent']);
        $this->assertCount(1, self::posts($posts));

        // the server is back: the outbox drains, and the account recovers once
        $back = $this->authServer(['port' => $down->port]);
        $rest();
        smtp34_outbox_flush(10, true);
        $this->assertSame(0, smtp34_account_get($failing)['failures']);
        $done = smtp34_maintain();
        $this->assertSame(['account_recovered'], array_column($done['alerts'], 'event'));
        $this->assertSame('account_recovered', json_decode(self::posts($posts)[1]['body'], true)['event']);
        $this->assertSame(0, smtp34_maintain()['alerts_sent']);
        $this->assertCount(2, $back->received());
    }

    public function testGivenUpLettersANoAccountFallbackAndAFailingWebhookAreAllNoted(): void
    {
        [$url, $posts] = $this->webhook(['--status', '500']);
        $server = $this->authServer();
        $this->account($server, [], false);
        $server->stop();
        smtp34_settings(['alert_webhook' => $url, 'fallback' => 'none']);
        $this->assertTrue(custom_mail('late@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertFalse(custom_mail('x@mail.ru', 's', "b\n", 'From: nobody@elsewhere.ru'), 'no account and fallback none: refused');
        [$waiting] = $this->waiting();
        self::sqlite(ini_get('smtp34.db'), "UPDATE outbox SET created_at = created_at - 49 * 3600 WHERE id = {$waiting['id']}");
        $this->assertSame(1, smtp34_outbox_flush(10, true)['failed']);

        $done = smtp34_maintain();
        $events = array_column($done['alerts'], 'event');
        sort($events);
        $this->assertSame(['letter_given_up'], $events, 'a refused letter is not a fallback to mail()');
        $this->assertCount(1, self::posts($posts), 'the webhook was tried');
        $this->assertStringContainsString('писем снято с очереди без доставки: 1', $done['alerts'][0]['text']);
        // the journal of alerts the dashboard shows: where each went, the failed webhook included
        $lines = explode("\n", trim(smtp34_log_read('alerts_0.log')));
        $this->assertMatchesRegularExpression("/^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\tletter_given_up\t[-0-9]+\tBitrix; webhook failed: HTTP 500\t.*снято с очереди без доставки: 1/u", end($lines));
        $this->assertStringNotContainsString('secret-path', implode("\n", $lines));
        $logs = array_column(smtp34_log_list(), null, 'name');
        $this->assertSame(['alerts', 0], [$logs['alerts_0.log']['kind'], $logs['alerts_0.log']['account_id']]);
    }

    public function testAWebhookThatNeverAnswersCostsOneTimeout(): void
    {
        [$url] = $this->webhook(['--hang']);
        $server = $this->authServer();
        $this->account($server, [], false);
        $server->stop();
        smtp34_settings(['alert_webhook' => $url, 'alert_after_failures' => 1, 'timeout' => 2]);
        custom_mail('a@mail.ru', 's', "b\n", 'From: shop@site.ru');
        $started = microtime(true);
        $done = smtp34_maintain();
        $this->assertSame(1, $done['alerts_sent']);
        $this->assertLessThan(6, microtime(true) - $started, 'bounded by timeout');
    }

    public function testWithNoWorkingAccountTheAlertGoesToMailAndDoesNotAlertAboutItself(): void
    {
        $server = $this->authServer();
        $out = sys_get_temp_dir() . '/smtp34-alert-sendmail-' . bin2hex(random_bytes(4));
        file_put_contents("$out.sh", "#!/bin/sh\ncat >> $out\n");
        chmod("$out.sh", 0700);
        $code = sprintf(<<<'PHP'
            smtp34_account_save(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => %d, 'auth' => 'none', 'security' => 'none'], false);
            smtp34_settings(['enabled' => true, 'delivery' => 'wait', 'alert_email' => 'admin@site.ru', 'alert_after_failures' => 1, 'fallback' => 'mail']);
            smtp34_maintain();
            custom_mail('a@mail.ru', 's', "b\n", 'From: shop@site.ru');
            echo json_encode(array_column(smtp34_maintain()['alerts'], 'event')), "\n";
            echo json_encode(array_column(smtp34_maintain()['alerts'], 'event')), "\n";
            PHP, $server->port);
        $server->stop();
        $result = ChildPhp::run($code, ChildPhp::freshIni() + ['sendmail_path' => "$out.sh"]);
        $this->assertSame(0, $result['code'], $result['stderr']);
        $this->assertSame(['["account_failing"]', '[]'], explode("\n", trim($result['stdout'])), 'the alert, then nothing about the alert letter itself');
        $handed = (string) @file_get_contents($out);
        @unlink($out);
        @unlink("$out.sh");
        $this->assertStringContainsString('To: admin@site.ru', $handed, 'PHP mail() took the alert');
        $this->assertStringContainsString('не смог отправить письмо', $handed);
    }

    /**
     * The weekly report under a faked clock (libfaketime: time() and SQLite's
     * "now" move, the monotonic clock does not), in a database of its own so
     * no other test sees letters from next week: Monday from 08:00 of the
     * site's time zone, once a week. PHP loads extensions with RTLD_DEEPBIND,
     * which binds them to libc ahead of an LD_PRELOADed libfaketime; preloaded
     * behind it, the extension is bound to the faked clock like PHP itself.
     */
    public function testTheWeeklyReportGoesOnMondayFromEightLocalTimeOnceAWeek(): void
    {
        $faketime = glob('/usr/lib/*/faketime/libfaketime.so.1')[0] ?? '';
        $this->assertFileExists($faketime, '.ci/setup installs faketime');
        $server = $this->authServer();
        $ini = ChildPhp::freshIni();
        $at = static function (string $localTime, string $code) use ($ini, $faketime): string {
            $env = ['TZ' => 'Europe/Moscow', 'FAKETIME' => "@$localTime", 'FAKETIME_DONT_FAKE_MONOTONIC' => '1',
                'LD_PRELOAD' => $faketime . ':' . ChildPhp::extension()];
            $result = ChildPhp::run($code, $ini, $env);
            self::assertSame(0, $result['code'], "$localTime: {$result['stderr']}");
            return trim($result['stdout']);
        };
        $maintain = 'echo json_encode(smtp34_maintain()["report_sent"]);';
        $setup = $at('2026-12-07 07:30:00', self::saveAccountCode($server) . "
            smtp34_settings(['enabled' => true, 'delivery' => 'wait', 'alert_email' => 'admin@site.ru']);
            custom_mail('client@mail.ru', 'Заказ', \"Спасибо\n\", 'From: shop@site.ru');
            echo smtp34_journal(1)[0]['time'];");
        $this->assertSame(strtotime('2026-12-07 04:30:00 UTC'), (int) $setup, 'the extension sees the faked clock');
        $this->assertCount(1, $server->received());
        $this->assertSame('false', $at('2026-12-06 23:59:00', $maintain), 'Sunday');
        $this->assertSame('false', $at('2026-12-07 07:59:00', $maintain), 'Monday before eight');
        $this->assertSame('true', $at('2026-12-07 08:00:30', $maintain), 'Monday from eight, Moscow time');
        $this->assertSame('false', $at('2026-12-07 11:00:00', $maintain), 'once a week');
        $this->assertSame('false', $at('2026-12-11 09:00:00', $maintain), 'Friday');
        $this->assertSame('true', $at('2026-12-14 08:05:00', $maintain), 'the next Monday');
        $reports = array_column(array_values(array_filter($server->received(), static fn ($l) => $l['meta']['rcpt_tos'] === ['admin@site.ru'])), 'raw');
        $this->assertCount(2, $reports);
        $this->assertStringContainsString('=?UTF-8?B?' . base64_encode('smtp34: отчёт за неделю') . '?=', $reports[0]);
        // one letter, sent, in the first week's report
        $this->assertMatchesRegularExpression('/shop@site\.ru/u', quoted_printable_decode($reports[0]));
    }
}
