<?php
declare(strict_types=1);

require_once __DIR__ . '/../../php/smtp34.smtp/lib/autoload.php';

use Smtp34\Admin\I18n;
use Smtp34\Admin\Journal;
use Smtp34\Admin\Pages;
use Smtp34\Admin\Request;

/** The journal page's filters and pages, and the dashboard, over real letters. */
final class JournalPagesTest extends Smtp34TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        // the journal and outbox are the database's, shared by every test of this process
        self::sqlite(ini_get('smtp34.db'), 'DELETE FROM journal; DELETE FROM outbox;');
    }

    private function pages(): Pages
    {
        return new Pages(new I18n('en'), static fn (string $page, array $query = []): string => "/$page" . ($query ? '?' . http_build_query($query) : ''), 'token');
    }

    private function page(string $name, array $query = []): string
    {
        return $this->pages()->show($name, new Request('GET', $query, []))->body;
    }

    /** @return list<int> journal ids of the rows the journal page shows */
    private function shown(array $query): array
    {
        preg_match_all('/<tr class="status-[a-z]+" data-id="(\d+)">/', $this->page('journal', $query), $m);
        return array_map('intval', $m[1]);
    }

    public function testDailyCountsPerOutcomeAndAccountForThirtyDays(): void
    {
        $now = strtotime('2026-11-23 12:00:00');
        // as smtp34_journal_counts() answers: one count a letter here, in hour buckets
        $row = static fn (string $when, string $status, ?int $account) => ['start' => intdiv(strtotime($when), 3600) * 3600, 'status' => $status, 'account_id' => $account, 'count' => 1];
        $daily = Journal::daily([
            $row('2026-11-23 09:00', 'sent', 1), $row('2026-11-23 10:00', 'sent', 2), $row('2026-11-23 11:00', 'queued', 1),
            $row('2026-11-22 23:59', 'failed', 1), $row('2026-11-22 00:00', 'refused', null), $row('2026-11-22 08:00', 'fallback', null),
            $row('2026-11-22 09:00', 'disabled', null), $row('2026-10-25 00:00', 'sent', 1),
            $row('2026-10-24 23:59', 'sent', 1), // 30 days ago: outside
        ], 30, $now);
        $this->assertCount(30, $daily['days']);
        $this->assertSame(['2026-10-25', '2026-11-23'], [array_key_first($daily['days']), array_key_last($daily['days'])]);
        $this->assertSame(['sent' => 2, 'queued' => 1, 'failed' => 0, 'fallback' => 0], $daily['days']['2026-11-23']);
        $this->assertSame(['sent' => 0, 'queued' => 0, 'failed' => 2, 'fallback' => 2], $daily['days']['2026-11-22']);
        $this->assertSame(1, $daily['days']['2026-10-25']['sent']);
        $this->assertSame(['sent' => 2, 'queued' => 1, 'failed' => 1, 'fallback' => 0], $daily['accounts']['1']);
        $this->assertSame(['sent' => 0, 'queued' => 0, 'failed' => 1, 'fallback' => 2], $daily['accounts']['none']);

        $svg = Journal::chart($daily['days'], ['sent' => 'Sent', 'queued' => 'Queued', 'failed' => 'Failed', 'fallback' => 'mail()']);
        $this->assertSame(30, substr_count($svg, '<g class="day"'));
        $this->assertStringContainsString('<title>2026-11-23: Sent 2, Queued 1, Failed 0, mail() 0</title>', $svg);
        $this->assertMatchesRegularExpression('/<rect class="sent" [^>]*data-count="2"\/>/', $svg);
        $this->assertStringNotContainsString('<script', $svg);
        $this->assertNotFalse(simplexml_load_string($svg), 'well-formed SVG');
    }

    public function testTheJournalPageFiltersByStatusAccountDatesAndTextAndPages(): void
    {
        $server = $this->authServer(['reject-rcpt' => 'nobody']);
        $id = $this->account($server);
        smtp34_settings(['enabled' => true, 'fallback' => 'none']);
        for ($i = 1; $i <= 60; $i++) {
            $this->assertTrue(custom_mail("buyer$i@example.test", "Заказ №$i", "b\n", 'From: shop@site.ru'));
        }
        for ($i = 1; $i <= 3; $i++) {
            $this->assertFalse(custom_mail("nobody$i@example.test", "Отказ $i", "b\n", 'From: shop@site.ru'));
        }
        custom_mail('lost@example.test', 'Без аккаунта', "b\n", 'From: stranger@elsewhere.test');
        $all = smtp34_journal(100);
        $this->assertCount(64, $all);
        $ids = array_column($all, 'id');

        $this->assertSame(array_slice($ids, 0, 50), $this->shown([]), 'newest first, 50 a page');
        $this->assertSame(array_slice($ids, 50), $this->shown(['page' => '2']));
        $this->assertSame(array_slice($ids, 50), $this->shown(['page' => '99']), 'a page past the end shows the last');
        $this->assertStringContainsString('<a href="/journal?page=2">2</a>', $this->page('journal'));

        $failed = array_column(array_filter($all, static fn ($r) => $r['status'] === 'failed'), 'id');
        $this->assertCount(3, $failed, 'refused by the server');
        $this->assertSame($failed, $this->shown(['status' => 'failed']));
        $this->assertSame([$ids[0]], $this->shown(['status' => 'refused']), 'no account, and fallback none');
        $this->assertSame([$ids[0]], $this->shown(['account' => 'none']));
        $this->assertSame(array_slice($ids, 1, 50), $this->shown(['account' => (string) $id]));
        $this->assertSame([$ids[64 - 7]], $this->shown(['text' => 'buyer7@']), 'recipient');
        $this->assertSame([$ids[64 - 7]], $this->shown(['text' => 'заказ №7'] + ['status' => 'sent']), 'subject, any case, with another filter');
        $this->assertSame([], $this->shown(['status' => 'queued']));
        $this->assertStringContainsString('No letter matches the filter.', $this->page('journal', ['status' => 'queued']));
        $this->assertSame(array_slice($ids, 0, 50), $this->shown(['status' => 'bogus', 'account' => '1 OR 1', 'from' => 'yesterday']), 'junk in a filter is ignored');

        // the first ten letters were sent three days ago
        self::sqlite(ini_get('smtp34.db'), 'UPDATE journal SET time = time - 3 * 86400 WHERE id <= ' . $all[63 - 9]['id']);
        $threeDaysAgo = date('Y-m-d', strtotime('-3 days'));
        $this->assertSame(array_slice($ids, 54), $this->shown(['from' => $threeDaysAgo, 'to' => $threeDaysAgo]));
        $this->assertSame(array_slice($ids, 0, 50), $this->shown(['from' => date('Y-m-d')]));
        $this->assertCount(54, array_merge($this->shown(['from' => date('Y-m-d')]), $this->shown(['from' => date('Y-m-d'), 'page' => '2'])));
        $this->assertStringContainsString('value="' . $threeDaysAgo . '"', $this->page('journal', ['from' => $threeDaysAgo]), 'the filter form keeps what was asked');
    }

    public function testTheDashboardShowsDailyOutcomesAccountsAndTheOutbox(): void
    {
        $server = $this->authServer(['reject-rcpt' => 'nobody']);
        $good = $this->account($server);
        $down = $this->authServer();
        $resting = $this->account($down, ['email' => 'news@site.ru']);
        $down->stop();
        smtp34_settings(['enabled' => true]);
        for ($i = 0; $i < 5; $i++) {
            custom_mail("buyer$i@example.test", 's', "b\n", 'From: shop@site.ru');
        }
        custom_mail('nobody@example.test', 's', "b\n", 'From: shop@site.ru');
        custom_mail('reader@example.test', 's', "b\n", 'From: news@site.ru');

        $html = $this->page('dashboard');
        $this->assertMatchesRegularExpression('#Sent: <strong>5</strong>.*Queued: <strong>1</strong>.*Failed: <strong>1</strong>.*Handed to mail\(\): <strong>0</strong>#s', $html);
        $this->assertStringContainsString('<strong id="outbox-size">1</strong>', $html);
        $this->assertSame(30, substr_count($html, '<g class="day"'));
        $this->assertMatchesRegularExpression('#<g class="day" data-day="' . date('Y-m-d') . '"><title>[^<]*</title><rect class="sent" [^>]*data-count="5"/>#', $html);
        $this->assertMatchesRegularExpression('#<tr data-id="' . $good . '">.*?<td class="sent">5</td><td class="queued">0</td><td class="failed">1</td></tr>#', $html);
        $this->assertMatchesRegularExpression('#<tr data-id="' . $resting . '">.*?class="smtp34-failing".*?<td class="queued">1</td>#', $html);
        $this->assertStringNotContainsString('window-note', $html, 'every letter is counted');
    }

    public function testATextSearchReadsTheNewestRowsAWindowAndLinksToOlderOnes(): void
    {
        $rows = Smtp34\Admin\Journal::TEXT_SCAN + 50_000;
        self::sqlite(ini_get('smtp34.db'), sprintf(<<<'SQL'
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
            INSERT INTO journal (time, account_id, mailing_id, from_addr, recipients, subject, message_id, status, reply, duration_ms)
            SELECT %d + i, 1, NULL, 'shop@site.ru', 'client' || i || '@mail.ru', 'Письмо ' || i, '<' || i || '@site.ru>', 'sent', '250 ok', 5 FROM n;
            SQL, $rows, time() - $rows - 100));
        $ids = array_column(smtp34_journal(1), 'id');
        $first = $ids[0] - $rows + 1;

        // client7 is among the oldest: the first window does not reach it, and says so
        $started = microtime(true);
        $html = $this->page('journal', ['text' => 'client7@mail.ru']);
        $this->assertLessThan(1.0, microtime(true) - $started, 'a window reads TEXT_SCAN rows, not the whole journal');
        $this->assertSame([], $this->shown(['text' => 'client7@mail.ru']));
        $this->assertStringContainsString('The text search read the newest 100 000 letters', $html);
        $this->assertMatchesRegularExpression('#<a id="journal-older" href="/journal\?text=client7%40mail\.ru&amp;before=(\d+)">#', $html);
        preg_match('#before=(\d+)#', $html, $m);
        $this->assertSame([$first + 6], $this->shown(['text' => 'client7@mail.ru', 'before' => $m[1]]), 'the next window finds it');
        // a recent one is found at once, and dates bound a search instead
        $this->assertSame([$ids[0] - 10], $this->shown(['text' => 'client' . ($rows - 10) . '@mail.ru']));
        $today = date('Y-m-d');
        $this->assertStringNotContainsString('The text search read', $this->page('journal', ['text' => 'client7@mail.ru', 'from' => date('Y-m-d', time() - 86400 * 5), 'to' => $today]));
    }
}
