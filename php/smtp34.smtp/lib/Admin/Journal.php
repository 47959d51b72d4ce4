<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/**
 * What the journal and dashboard pages show, for every host (standalone,
 * Bitrix): filters, pages and per-day counts over the whole journal. The
 * extension filters in SQL (SPEC §6); a page holds the newest WINDOW rows
 * that match (a few MB at most: the extension caps every stored text) and
 * links to the next WINDOW older ones.
 */
final class Journal
{
    public const WINDOW = 2000;
    public const PER_PAGE = 50;
    public const STATUSES = ['sent', 'queued', 'failed', 'fallback', 'refused', 'disabled', 'interrupted', 'sending'];
    /** The dashboard's four kinds of outcome, and the journal statuses each counts. */
    public const OUTCOMES = [
        'sent' => ['sent'],
        'queued' => ['queued', 'sending'],
        'failed' => ['failed', 'refused', 'interrupted'],
        'fallback' => ['fallback', 'disabled'],
    ];

    /**
     * The newest rows the filter (of {@see filterFrom()}) lets through, at
     * most WINDOW of them, below the id `$before` when it is above 0: the
     * extension filters the whole journal in SQL; the pages page through
     * this window and link to the next one. A text search without dates
     * reads only the rows above `$bound`, {@see textBound()} of the same
     * filter and `$before` (the caller keeps it for the window's links).
     */
    public static function window(array $filter, int $before, ?int $bound): array
    {
        $api = self::apiFilter($filter);
        if ($bound === null) {
            return smtp34_journal(self::WINDOW, $before, $api);
        }
        // the rows above the bound: by time, which the extension turns into ids without a scan
        $edge = smtp34_journal(1, $bound + 1)[0] ?? null;
        $api['since'] = ($edge['time'] ?? 0) - 600;
        return array_values(array_filter(smtp34_journal(self::WINDOW, $before, $api), static fn ($r) => $r['id'] > $bound));
    }

    /** Rows a text search reads a window: a substring has no index, and a million rows take seconds. */
    public const TEXT_SCAN = 100_000;

    /**
     * Where a text search of the window below `$before` stops (it reads ids
     * above this one), or null when it reads to the journal's start: no
     * text, dates given (they bound it), or fewer rows than TEXT_SCAN left.
     */
    public static function textBound(array $filter, int $before): ?int
    {
        if (($filter['text'] ?? '') === '' || ($filter['from'] ?? '') !== '' || ($filter['to'] ?? '') !== '') {
            return null;
        }
        $top = $before > 0 ? $before : (int) ((smtp34_journal(1)[0]['id'] ?? 0) + 1);
        $bound = $top - 1 - self::TEXT_SCAN;
        return $bound > 0 && smtp34_journal(1, $bound + 1) !== [] ? $bound : null;
    }

    /**
     * The `before` of the next older window: below the oldest row shown when
     * this window is full, else below where a text search stopped; null
     * when nothing older is left to read.
     */
    public static function nextBefore(array $window, ?int $bound): ?int
    {
        if (count($window) >= self::WINDOW) {
            return (int) end($window)['id'];
        }
        return $bound !== null ? $bound + 1 : null;
    }

    /** The page's filter as smtp34_journal() takes it: local days become unix times. */
    public static function apiFilter(array $filter): array
    {
        $api = [];
        if (($filter['status'] ?? '') !== '') {
            $api['status'] = $filter['status'];
        }
        if (($filter['account'] ?? '') !== '') {
            $api['account_id'] = $filter['account'] === 'none' ? null : (int) $filter['account'];
        }
        if (($filter['from'] ?? '') !== '') {
            $api['since'] = strtotime($filter['from'] . ' 00:00:00');
        }
        if (($filter['to'] ?? '') !== '') {
            $api['until'] = strtotime($filter['to'] . ' 00:00:00 +1 day') - 1;
        }
        if (($filter['text'] ?? '') !== '') {
            $api['text'] = $filter['text'];
        }
        return $api;
    }

    /** The filter's choices of status: any, or one of STATUSES. */
    public static function statusOptions(I18n $t): array
    {
        return ['' => $t->get('J_ANY')] + array_combine(self::STATUSES, array_map(static fn ($s) => self::statusWord($s, $t), self::STATUSES));
    }

    /** A journal status in the admin's language (`sent` → «Отправлено»); one it does not know, as it is. */
    public static function statusWord(string $status, I18n $t): string
    {
        $word = $t->get('STATUS_' . $status);
        return $word === 'STATUS_' . $status ? $status : $word;
    }

    /** The filter's choices of account: any, none, or one of the accounts. */
    public static function accountOptions(I18n $t): array
    {
        $accounts = ['' => $t->get('J_ANY'), 'none' => $t->get('J_NO_ACCOUNT')];
        foreach (smtp34_account_list() as $a) {
            $accounts[(string) $a['id']] = '[' . $a['id'] . '] ' . $a['email'];
        }
        return $accounts;
    }

    /**
     * What the pages say when there is more to read than this window: the
     * newest WINDOW matches (back to `$since`), or a text search that read
     * TEXT_SCAN rows (`$bound`); else null.
     */
    public static function windowNote(array $window, ?int $bound, I18n $t): ?string
    {
        if (count($window) >= self::WINDOW) {
            return sprintf($t->get('J_WINDOW'), self::WINDOW, Html::date((int) end($window)['time']));
        }
        return $bound !== null ? sprintf($t->get('J_TEXT_WINDOW'), number_format(self::TEXT_SCAN, 0, '', ' ')) : null;
    }

    /** Who a log belongs to, as the logs lists show it. */
    public static function logOwner(array $log, ?array $account, I18n $t): string
    {
        if ($account !== null) {
            return '[' . $account['id'] . '] ' . trim($account['name'] . ' <' . $account['email'] . '>');
        }
        if ($log['kind'] === 'alerts') {
            return $t->get('ALL_ACCOUNTS');
        }
        return $log['account_id'] === 0 ? $t->get('NOT_SAVED_ACCOUNT') : '[' . $log['account_id'] . '] ' . $t->get('DELETED_ACCOUNT');
    }

    /**
     * The filter a query string asks for, normalised: status (one of
     * STATUSES), account (an id, or 'none'), from and to (Y-m-d, local
     * days, inclusive), text (in recipients, subject, from or Message-ID).
     *
     * @return array{status: string, account: string, from: string, to: string, text: string}
     */
    public static function filterFrom(array $query): array
    {
        $day = static fn ($v): string => is_string($v) && preg_match('/^\d{4}-\d\d-\d\d$/', $v) ? $v : '';
        $status = is_string($query['status'] ?? null) && in_array($query['status'], self::STATUSES, true) ? $query['status'] : '';
        $account = is_string($query['account'] ?? null) && preg_match('/^(\d+|none)$/', $query['account']) ? $query['account'] : '';
        $text = is_string($query['text'] ?? null) ? trim(mb_substr($query['text'], 0, 200)) : '';
        return ['status' => $status, 'account' => $account, 'from' => $day($query['from'] ?? null), 'to' => $day($query['to'] ?? null), 'text' => $text];
    }

    /**
     * One page of rows (1-based, clamped to the pages there are).
     *
     * @return array{rows: array, page: int, pages: int, total: int}
     */
    public static function page(array $rows, int $page, int $perPage = self::PER_PAGE): array
    {
        $pages = max(1, (int) ceil(count($rows) / $perPage));
        $page = min(max(1, $page), $pages);
        return ['rows' => array_slice($rows, ($page - 1) * $perPage, $perPage), 'page' => $page, 'pages' => $pages, 'total' => count($rows)];
    }

    /**
     * Letters per local day and outcome for the `$days` days up to today,
     * oldest first, per account too: the whole journal, counted by the
     * extension per hour (hours add up to local days in any whole-hour zone).
     *
     * @return array{days: array<string, array<string, int>>, accounts: array<string, array<string, int>>}
     */
    public static function dailyCounts(int $days, int $now): array
    {
        $first = strtotime(date('Y-m-d', strtotime('-' . ($days - 1) . ' days', $now)) . ' 00:00:00');
        return self::daily(smtp34_journal_counts($first, $now, 3600), $days, $now);
    }

    /**
     * {@see dailyCounts()} from the counts given (smtp34_journal_counts() rows).
     *
     * @return array{days: array<string, array<string, int>>, accounts: array<string, array<string, int>>}
     */
    public static function daily(array $counts, int $days, int $now): array
    {
        $empty = array_fill_keys(array_keys(self::OUTCOMES), 0);
        $series = [];
        for ($i = $days - 1; $i >= 0; $i--) {
            $series[date('Y-m-d', strtotime("-$i days", $now))] = $empty;
        }
        $outcomeOf = [];
        foreach (self::OUTCOMES as $outcome => $statuses) {
            foreach ($statuses as $status) {
                $outcomeOf[$status] = $outcome;
            }
        }
        $accounts = [];
        foreach ($counts as $count) {
            $day = date('Y-m-d', $count['start']);
            $outcome = $outcomeOf[$count['status']] ?? null;
            if ($outcome === null || !isset($series[$day])) {
                continue;
            }
            $series[$day][$outcome] += $count['count'];
            $account = $count['account_id'] === null ? 'none' : (string) $count['account_id'];
            $accounts[$account] ??= $empty;
            $accounts[$account][$outcome] += $count['count'];
        }
        ksort($accounts, SORT_NATURAL);
        return ['days' => $series, 'accounts' => $accounts];
    }

    /** Colours of the chart's outcomes (shared by the chart and its legend). */
    public const COLOURS = ['sent' => '#2e7d32', 'queued' => '#f9a825', 'failed' => '#c62828', 'fallback' => '#1565c0'];

    /**
     * A stacked bar chart of daily()['days'] as inline SVG: no script, no
     * external file (the admin's CSP allows neither).
     *
     * @param array<string, array<string, int>> $days
     * @param array<string, string> $labels outcome → its name in the admin's language
     */
    public static function chart(array $days, array $labels): string
    {
        $width = 720;
        $height = 220;
        $left = 40;
        $bottom = 24;
        $plot = $height - $bottom - 10;
        $max = max(1, ...array_map('array_sum', array_values($days)));
        $scale = 10 ** max(0, (int) floor(log10($max)));
        // whole numbers at every tick (0, half, top): the top is at least 2 and even
        $top = max(2, (int) (ceil($max / $scale) * $scale));
        $top += $top % 2;
        $bar = ($width - $left) / max(1, count($days));
        $svg = '<svg xmlns="http://www.w3.org/2000/svg" class="smtp34-chart" id="daily-chart" role="img" viewBox="0 0 ' . $width . ' ' . $height . '" width="100%" style="max-width:' . $width . 'px">';
        foreach ([0, 0.5, 1] as $tick) {
            $y = 10 + $plot - $plot * $tick;
            $svg .= sprintf('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" font-size="10" text-anchor="end">%s</text>', $left, $y, $width, $y, $left - 4, $y + 3, Html::e((string) round($top * $tick)));
        }
        $i = 0;
        foreach ($days as $day => $counts) {
            $x = $left + $i * $bar;
            $y = 10 + $plot;
            $tip = $day . ': ' . implode(', ', array_map(static fn ($o) => $labels[$o] . ' ' . $counts[$o], array_keys(self::COLOURS)));
            $svg .= '<g class="day" data-day="' . Html::e($day) . '"><title>' . Html::e($tip) . '</title>';
            foreach (self::COLOURS as $outcome => $colour) {
                $h = $plot * $counts[$outcome] / $top;
                if ($h > 0) {
                    $y -= $h;
                    $svg .= sprintf('<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" data-count="%d"/>', $outcome, $x + 1, $y, $bar - 2, $h, $colour, $counts[$outcome]);
                }
            }
            $svg .= '</g>';
            if ($i % 5 === 0 || $i === count($days) - 1) {
                // the last day's label ends at the edge rather than past it
                $last = $i === count($days) - 1;
                $svg .= sprintf('<text x="%.1f" y="%d" font-size="10" text-anchor="%s">%s</text>', $last ? $width - 1 : $x + $bar / 2, $height - 8, $last ? 'end' : 'middle', Html::e(substr($day, 5)));
            }
            $i++;
        }
        return $svg . '</svg>';
    }
}
