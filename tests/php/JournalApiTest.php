<?php
declare(strict_types=1);

/**
 * smtp34_journal()'s keyset pages and filters and smtp34_journal_counts()
 * (SPEC §6), over a journal of a few thousand rows, each answer compared
 * with a plain scan of every row done here in PHP.
 */
final class JournalApiTest extends Smtp34TestCase
{
    private const ROWS = 3000;
    private const START = 1790000000;

    protected function setUp(): void
    {
        parent::setUp();
        // rows a minute apart, but written a little out of time order now and then (a
        // writer that waited on the lock), statuses, accounts, mailings and texts mixed
        self::sqlite(ini_get('smtp34.db'), sprintf(<<<'SQL'
            DELETE FROM journal; DELETE FROM outbox;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
            INSERT INTO journal (time, account_id, mailing_id, from_addr, recipients, subject, message_id, status, reply, duration_ms)
            SELECT %d + i * 60 - (i %% 7) * 40,
                   CASE i %% 4 WHEN 0 THEN NULL ELSE i %% 4 END,
                   CASE WHEN i %% 5 = 0 THEN 'm' || (i / 100) END,
                   CASE WHEN i %% 3 = 0 THEN 'Магазин <shop@site.ru>' ELSE 'news@site.ru' END,
                   'user' || i || '@mail.ru',
                   CASE WHEN i %% 11 = 0 THEN 'Заказ №' || i || ' 100%% готов' ELSE 'Letter ' || i END,
                   '<' || i || '@site.ru>',
                   CASE WHEN i %% 13 = 0 THEN 'failed' WHEN i %% 17 = 0 THEN 'queued' WHEN i %% 29 = 0 THEN 'fallback' ELSE 'sent' END,
                   '250 ok', i %% 300
            FROM n;
            SQL, self::ROWS, self::START));
    }

    /** Every row, newest first, as the reference. */
    private static function all(): array
    {
        $rows = smtp34_journal(self::ROWS + 10);
        self::assertCount(self::ROWS, $rows);
        return $rows;
    }

    /** The ids of every page of `$limit` rows that pass `$filter`, following before_id. */
    private static function paged(array $filter, int $limit): array
    {
        $ids = [];
        $before = 0;
        for ($pages = 0; $pages < 1000; $pages++) {
            $page = smtp34_journal($limit, $before, $filter);
            self::assertLessThanOrEqual($limit, count($page));
            if ($page === []) {
                return $ids;
            }
            array_push($ids, ...array_column($page, 'id'));
            $before = end($page)['id'];
        }
        self::fail('paging did not end');
    }

    public function testPagingVisitsEveryRowOnceNewestFirst(): void
    {
        $all = array_column(self::all(), 'id');
        $this->assertSame($all, self::paged([], 50));
        $this->assertSame($all, self::paged([], 7));
        $this->assertSame(array_slice($all, 100, 20), array_column(smtp34_journal(20, $all[99]), 'id'));
    }

    /** @dataProvider filters */
    public function testEachFilterEqualsAFullScan(array $filter, callable $keep): void
    {
        $expected = array_column(array_values(array_filter(self::all(), $keep)), 'id');
        $this->assertNotEmpty($expected, 'the filter finds something');
        $this->assertLessThan(self::ROWS, count($expected), 'the filter leaves something out');
        $this->assertSame($expected, self::paged($filter, 40));
    }

    public static function filters(): array
    {
        $since = self::START + 1000 * 60;
        $until = self::START + 1500 * 60;
        return [
            'status' => [['status' => 'failed'], static fn ($r) => $r['status'] === 'failed'],
            'statuses' => [['status' => ['queued', 'fallback']], static fn ($r) => in_array($r['status'], ['queued', 'fallback'], true)],
            'account' => [['account_id' => 2], static fn ($r) => $r['account_id'] === 2],
            'no account' => [['account_id' => null], static fn ($r) => $r['account_id'] === null],
            'mailing' => [['mailing' => true], static fn ($r) => $r['mailing']],
            'not mailing' => [['mailing' => false], static fn ($r) => !$r['mailing']],
            'since' => [['since' => $since], static fn ($r) => $r['time'] >= $since],
            'until' => [['until' => $until], static fn ($r) => $r['time'] <= $until],
            'range' => [['since' => $since, 'until' => $until], static fn ($r) => $r['time'] >= $since && $r['time'] <= $until],
            'text in subject, any case' => [['text' => 'заказ №'], static fn ($r) => str_contains($r['subject'], 'Заказ №')],
            'text in recipients, any case' => [['text' => 'USER12'], static fn ($r) => str_contains($r['recipients'], 'user12')],
            'text in from' => [['text' => 'shop@'], static fn ($r) => str_contains($r['from'], 'shop@')],
            'text in message id' => [['text' => '<77@'], static fn ($r) => $r['message_id'] === '<77@site.ru>'],
            'a % in text is a %' => [['text' => '100% г'], static fn ($r) => str_contains($r['subject'], '100% г')],
            'all at once' => [['status' => ['sent', 'failed'], 'account_id' => 1, 'mailing' => false, 'since' => $since, 'text' => 'site.ru'],
                static fn ($r) => in_array($r['status'], ['sent', 'failed'], true) && $r['account_id'] === 1 && !$r['mailing'] && $r['time'] >= $since],
        ];
    }

    public function testCountsEqualTheRowsPerBucketAccountAndStatus(): void
    {
        $since = self::START + 500 * 60;
        $until = self::START + 2500 * 60;
        $expected = [];
        foreach (self::all() as $r) {
            if ($r['time'] >= $since && $r['time'] <= $until) {
                $key = intdiv($r['time'], 3600) * 3600 . '/' . ($r['account_id'] ?? 'none') . '/' . $r['status'];
                $expected[$key] = ($expected[$key] ?? 0) + 1;
            }
        }
        $counts = [];
        foreach (smtp34_journal_counts($since, $until, 3600) as $c) {
            $this->assertSame(0, $c['start'] % 3600, 'buckets start on the hour (UTC), so they add up to any whole-hour zone\'s days');
            $this->assertGreaterThan(0, $c['count']);
            $counts[$c['start'] . '/' . ($c['account_id'] ?? 'none') . '/' . $c['status']] = $c['count'];
        }
        ksort($expected);
        ksort($counts);
        $this->assertSame($expected, $counts);

        $day = array_sum(array_column(smtp34_journal_counts(self::START, self::START + 86400 * 10, 86400), 'count'));
        $this->assertSame(self::ROWS, $day, 'every row counted once');
        $this->assertSame([], smtp34_journal_counts(self::START + 86400 * 30, self::START + 86400 * 31));
        $this->assertNotEmpty(smtp34_journal_counts(self::START), 'until 0: now');
    }

    public function testBadFiltersThrowValueErrorNamingTheKey(): void
    {
        foreach ([
            [['sender' => 'x'], 'sender'], [['status' => 'lost'], 'status'], [['status' => 5], 'status'], [['status' => ['sent', 'nope']], 'status'],
            [['account_id' => '2'], 'account_id'], [['mailing' => 1], 'mailing'], [['since' => '2026-01-01'], 'since'], [['text' => ['x']], 'text'],
        ] as [$filter, $key]) {
            try {
                smtp34_journal(10, 0, $filter);
                $this->fail('accepted ' . json_encode($filter));
            } catch (\ValueError $e) {
                $this->assertStringStartsWith("$key:", $e->getMessage());
            }
        }
        $this->expectException(\ValueError::class);
        smtp34_journal_counts(0, 0, 0);
    }

    public function testRowsSayWhetherTheyCanBeResent(): void
    {
        $row = smtp34_journal(1)[0];
        $this->assertFalse($row['kept']);
        $this->assertNull($row['resent_from']);
    }
}
