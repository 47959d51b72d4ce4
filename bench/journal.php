<?php
// The operator's journal over a big journal (issue 20): fills smtp34.db with
// ROWS rows (a site sending 100,000 letters a month, kept for 10 months), then
// times each kind of page the admin opens, median of 5, in milliseconds:
//
//   php -d extension=libsmtp34.so -d smtp34.db=/tmp/j/smtp34.db bench/journal.php [ROWS]
declare(strict_types=1);

require __DIR__ . '/../php/smtp34.smtp/lib/autoload.php';

use Smtp34\Admin\I18n;
use Smtp34\Admin\Journal;
use Smtp34\Admin\Pages;
use Smtp34\Admin\Request;

$rows = (int) ($argv[1] ?? 1_000_000);
$db = (string) ini_get('smtp34.db');
$now = time();
$step = intdiv(300 * 86400, $rows);   // ten months of letters, newest now
smtp34_settings(['journal_days' => 0]);   // opens (and migrates) the database; nothing is pruned
$fill = microtime(true);
$pdo = new PDO("sqlite:$db");
$pdo->exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; DELETE FROM journal;');
$pdo->exec(sprintf(<<<'SQL'
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
    INSERT INTO journal (time, account_id, mailing_id, from_addr, recipients, subject, message_id, status, reply, duration_ms)
    SELECT %d - (%d - i) * %d,
           1 + (i %% 3),
           CASE WHEN i %% 4 = 0 THEN 'newsletter-' || (i / 50000) END,
           CASE WHEN i %% 4 = 0 THEN 'news@site.ru' ELSE 'Интернет-магазин <shop@site.ru>' END,
           'customer' || (abs(random()) %% 200000) || '@mail.ru',
           CASE WHEN i %% 4 = 0 THEN 'Новости магазина №' || (i / 50000) ELSE 'Ваш заказ №' || i || ' принят' END,
           '<' || hex(randomblob(16)) || '@site.ru>',
           CASE WHEN i %% 97 = 0 THEN 'failed' WHEN i %% 89 = 0 THEN 'queued' WHEN i %% 1009 = 0 THEN 'fallback' ELSE 'sent' END,
           '250 2.0.0 Ok: queued as ' || hex(randomblob(5)), 20 + abs(random()) %% 300
    FROM n
    SQL, $rows, $now, $rows, $step));
$pdo = null;
printf("  %-58s %8.1f s\n", sprintf('filling %s rows (SQLite, %.0f MB)', number_format($rows, 0, '.', ','), filesize($db) / 1e6), microtime(true) - $fill);

$t = new I18n('en');
// a page object per request, as the hosts make one (it keeps what it read for one request)
$pages = static fn (): Pages => new Pages($t, static fn (string $page, array $query = []): string => "/$page?" . http_build_query($query), 'token');
$deep = smtp34_journal(1, 0, ['until' => $now - 200 * 86400])[0]['id'];
$rare = smtp34_journal(1, 0, ['until' => $now - 250 * 86400])[0]['recipients'];
$cases = [
    'smtp34_journal(50): the newest page' => static fn () => smtp34_journal(50),
    'smtp34_journal(50, before_id) 200 days back' => static fn () => smtp34_journal(50, $deep),
    "filter status 'failed'" => static fn () => smtp34_journal(50, 0, ['status' => 'failed']),
    "filter status ['queued', 'fallback']" => static fn () => smtp34_journal(50, 0, ['status' => ['queued', 'fallback']]),
    'filter account 2, mailing' => static fn () => smtp34_journal(50, 0, ['account_id' => 2, 'mailing' => true]),
    'filter one day 100 days back' => static fn () => smtp34_journal(50, 0, ['since' => $now - 100 * 86400, 'until' => $now - 99 * 86400]),
    'filter text: a recipient (seen 250 days back)' => static fn () => smtp34_journal(50, 0, ['text' => $rare]),
    'filter text: a word, in Cyrillic, any case' => static fn () => smtp34_journal(50, 0, ['text' => 'новости магазина №9']),
    'filter text that nothing has (reads every row)' => static fn () => smtp34_journal(50, 0, ['text' => 'no-such-text']),
    'smtp34_journal_counts(): 30 days by the hour' => static fn () => smtp34_journal_counts($now - 30 * 86400, 0, 3600),
    'the dashboard page (30 days complete)' => static fn () => $pages()->show('dashboard', new Request('GET', [], [])),
    'the journal page, no filter' => static fn () => $pages()->show('journal', new Request('GET', [], [])),
    'the journal page, status failed, page 3' => static fn () => $pages()->show('journal', new Request('GET', ['status' => 'failed', 'page' => '3'], [])),
    'the journal page, text: a rare recipient (one window)' => static fn () => $pages()->show('journal', new Request('GET', ['text' => $rare], [])),
    'the journal page, text: a Cyrillic word (one window)' => static fn () => $pages()->show('journal', new Request('GET', ['text' => 'новости магазина №9'], [])),
];
foreach ($cases as $name => $case) {
    $times = [];
    for ($i = 0; $i < 5; $i++) {
        $start = hrtime(true);
        $case();
        $times[] = (hrtime(true) - $start) / 1e6;
    }
    sort($times);
    printf("  %-58s %8.1f ms%s\n", $name, $times[2], $times[2] <= 200 ? '' : '   (over the 200 ms target)');
}
