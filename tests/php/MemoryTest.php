<?php
declare(strict_types=1);

/**
 * A letter costs a small multiple of its size, at every log level, sent or
 * left waiting in the outbox: the worker's peak RSS (VmHWM in
 * /proc/self/status, measured in a child PHP process) grows by less than five
 * times the letter's bytes on the wire.
 *
 * The timeout is long: aiosmtpd takes ~10 s over 4 MB of empty lines on a
 * slow machine, and a letter whose reply timed out took the other path (it
 * waited in the outbox), which cost 5.3 times its size until its retry stopped
 * binding the bytes the row already held.
 */
final class MemoryTest extends Smtp34TestCase
{
    /** @dataProvider cases */
    public function testPeakMemoryIsBoundedByTheLetter(string $kind, int $level, bool $serverAnswers = true): void
    {
        $server = $this->server();
        if (!$serverAnswers) {
            // nothing listens on its port any more: the letter waits in the outbox
            $server->stop();
        }
        $code = sprintf(<<<'PHP'
            // the sending path's memory, measured around custom_mail(): it waits for the server
            smtp34_settings(['enabled' => true, 'log_level' => max(1, %2$d), 'log_enabled' => %2$d > 0, 'delivery' => 'wait', 'timeout' => 120]);
            smtp34_account_save(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => %1$d, 'auth' => 'none'], false);
            $hwm = static function (): int {
                preg_match('/^VmHWM:\s+(\d+) kB/m', file_get_contents('/proc/self/status'), $m);
                return (int) $m[1] * 1024;
            };
            $body = %3$s === 'empty lines'
                ? str_repeat("\n", 4 * 1024 * 1024)
                : chunk_split(base64_encode(random_bytes(15 * 1024 * 1024)), 76, "\n");
            $before = $hwm();
            $sent = custom_mail('u@mail.ru', 's', $body, "From: shop@site.ru\r\nContent-Type: text/plain");
            $grew = $hwm() - $before;
            $waiting = array_column(smtp34_outbox_list(), 'size');
            echo json_encode(['sent' => $sent, 'grew' => $grew, 'wire' => strlen(str_replace("\n", "\r\n", $body)), 'waiting' => $waiting]);
            PHP, $server->port, $level, var_export($kind, true));
        $result = ChildPhp::run($code, ChildPhp::freshIni() + ['memory_limit' => '512M']);
        $this->assertSame(0, $result['code'], $result['stderr']);
        $measured = json_decode($result['stdout'], true);

        $this->assertTrue($measured['sent']);
        $this->assertLessThan(5 * $measured['wire'], $measured['grew'], sprintf('%s at level %d: RSS grew by %.1f MB for a %.1f MB letter',
            $kind, $level, $measured['grew'] / 1048576, $measured['wire'] / 1048576));
        if (!$serverAnswers) {
            $this->assertCount(1, $measured['waiting'], 'the letter waits in the outbox');
            $this->assertGreaterThan($measured['wire'], $measured['waiting'][0], 'with all its bytes');
            return;
        }
        $this->assertSame([], $measured['waiting'], 'nothing waits');
        [, $body] = self::split($server->only()['raw']);
        $this->assertSame($measured['wire'], strlen($body), 'the whole body arrived');
    }

    /**
     * The agent's flush of a letter that waited with its bytes in its row: the
     * claim reads them (one copy) and the send goes from there. Its removal
     * once sent cost as much again while it read the bytes back to tell whether
     * the row held any (24.7 MB for 8 MB; now 16.4): the bound here is 2.5 times.
     */
    public function testFlushingALetterThatWaitedCostsLessThanTwoAndAHalfTimesIt(): void
    {
        $gone = $this->server();
        $gone->stop();
        $ini = ChildPhp::freshIni() + ['memory_limit' => '512M'];
        $queued = ChildPhp::run(sprintf(<<<'PHP'
            smtp34_settings(['enabled' => true, 'delivery' => 'wait', 'log_enabled' => false, 'timeout' => 120]);
            smtp34_account_save(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => %d, 'auth' => 'none'], false);
            echo json_encode(custom_mail('u@mail.ru', 's', str_repeat("\n", 4 * 1024 * 1024), "From: shop@site.ru\r\nContent-Type: text/plain"));
            PHP, $gone->port), $ini);
        $this->assertSame('true', $queued['stdout'], $queued['stderr']);

        $server = $this->server();
        $flushed = ChildPhp::run(sprintf(<<<'PHP'
            $id = smtp34_account_list()[0]['id'];
            smtp34_account_save(['id' => $id, 'port' => %d], false);
            $waiting = array_column(smtp34_outbox_list(), 'size');
            $hwm = static function (): int {
                preg_match('/^VmHWM:\s+(\d+) kB/m', file_get_contents('/proc/self/status'), $m);
                return (int) $m[1] * 1024;
            };
            $before = $hwm();
            $report = smtp34_outbox_flush(100, true);
            echo json_encode(['report' => $report, 'grew' => $hwm() - $before, 'waiting' => $waiting]);
            PHP, $server->port), $ini);
        $this->assertSame(0, $flushed['code'], $flushed['stderr']);
        $measured = json_decode($flushed['stdout'], true);
        $this->assertSame(['sent' => 1, 'failed' => 0, 'left' => 0], $measured['report']);
        $this->assertCount(1, $measured['waiting']);
        $this->assertLessThan(2.5 * $measured['waiting'][0], $measured['grew'], sprintf('RSS grew by %.1f MB flushing a %.1f MB letter',
            $measured['grew'] / 1048576, $measured['waiting'][0] / 1048576));
    }

    public static function cases(): array
    {
        return [
            '4 MB of empty lines, logs off' => ['empty lines', 0],
            '4 MB of empty lines, level 4' => ['empty lines', 4],
            '20 MB attachment, level 2' => ['attachment', 2],
            '20 MB attachment, level 4' => ['attachment', 4],
            '4 MB of empty lines, level 4, no server: it waits' => ['empty lines', 4, false],
            '20 MB attachment, level 2, no server: it waits' => ['attachment', 2, false],
        ];
    }
}
