<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Smtp34\Admin\Html;
use Smtp34\Admin\I18n;
use Smtp34\Admin\Journal;
use Smtp34\Admin\Lists;
use Smtp34\Bitrix\AdminPage;
use Smtp34\Bitrix\SiteWarnings;

/**
 * What every Bitrix-native page of the module shares: the module's group
 * right (R to see, W to change), the strings (through Loc), the site
 * charset (the extension speaks UTF-8; a windows-1251 site's admin gets its
 * own) and lists over arrays with Bitrix's page navigation.
 */
final class Admin
{
    public const MODULE_ID = AdminPage::MODULE_ID;

    public static function t(): I18n
    {
        return new I18n(defined('LANGUAGE_ID') && LANGUAGE_ID === 'en' ? 'en' : 'ru');
    }

    /** A string of the page's own lang file (Loc), as UTF-8 like every other string here. */
    public static function loc(string $code): string
    {
        return I18n::utf8(\Bitrix\Main\Localization\Loc::getMessage($code)) ?? $code;
    }

    public static function right(): string
    {
        global $APPLICATION;
        return (string) $APPLICATION->GetGroupRight(self::MODULE_ID);
    }

    /** False, with Bitrix's login form shown, when the user lacks `$needed` (R or W). */
    public static function allowed(string $needed = 'R'): bool
    {
        global $APPLICATION;
        if (self::right() < $needed) {
            $APPLICATION->AuthForm(self::t()->get('ACCESS_DENIED'));
            return false;
        }
        return true;
    }

    /**
     * The page `$page` (a Ui class) prepares. When it needs the extension and
     * this PHP has not loaded it, the user who may see it is told why (the
     * site's warnings) inside the admin, not shown a login form.
     */
    public static function open(string $page): ?Screen
    {
        if (extension_loaded('smtp34') || defined($page . '::WORKS_WITHOUT_EXTENSION')) {
            return $page::prepare();
        }
        if (!self::allowed('R')) {
            return null;
        }
        $t = self::t();
        $warnings = SiteWarnings::all($_SERVER['DOCUMENT_ROOT'], $t);
        return new Screen($t->get('MODULE_NAME'), static fn () => self::showWarnings($warnings));
    }

    /** @param list<string> $warnings where the site's mail bypasses smtp34 (SiteWarnings) */
    public static function showWarnings(array $warnings): void
    {
        foreach ($warnings as $warning) {
            \CAdminMessage::ShowMessage(['MESSAGE' => self::site($warning), 'TYPE' => 'ERROR']);
        }
    }

    /** A change may be made: W, and Bitrix's sessid on the request. */
    public static function mayChange(): bool
    {
        return self::right() >= 'W' && check_bitrix_sessid();
    }

    /** UTF-8 text (the extension's, the module's HTML) in the site's charset. */
    public static function site(string $utf8): string
    {
        $charset = I18n::siteCharset();
        return $charset === null ? $utf8 : mb_convert_encoding($utf8, $charset, 'UTF-8');
    }

    /**
     * The request's values (in the site's charset) as UTF-8. Null, as
     * Bitrix's `CAdminList::InitFilter()` answers until a filter is set, is
     * no values.
     */
    public static function request(?array $values): array
    {
        $values ??= [];
        $charset = I18n::siteCharset();
        if ($charset === null) {
            return $values;
        }
        array_walk_recursive($values, static function (&$value) use ($charset): void {
            $value = is_string($value) ? mb_convert_encoding($value, 'UTF-8', $charset) : $value;
        });
        return $values;
    }

    /** Escaped for HTML, in the site's charset. */
    public static function e(string|int|null $text): string
    {
        return htmlspecialcharsbx(self::site((string) $text));
    }

    /** The rows sorted by the list's column (one of `$columns`: column id → row key) and order. */
    public static function sorted(array $rows, \CAdminSorting $sort, array $columns): array
    {
        $key = $columns[strtoupper($sort->getField())] ?? null;
        if ($key !== null) {
            $descending = strtolower($sort->getOrder()) === 'desc';
            usort($rows, static fn ($a, $b) => $descending ? $b[$key] <=> $a[$key] : $a[$key] <=> $b[$key]);
        }
        return $rows;
    }

    /**
     * A row of `$list` with a cell for every column the list declares:
     * Bitrix shows `arRes[<column id>]` where a column has no view field,
     * and our rows' keys are the API's lower-case ones, so a column left out
     * here would stay empty. `$cells`: column id → HTML.
     */
    public static function row(\CAdminList $list, string|int $id, array $values, array $cells, string|false $link = false, string|false $title = false): \CAdminListRow
    {
        $missing = array_diff(array_keys($list->aHeaders), array_keys($cells));
        if ($missing !== []) {
            throw new \LogicException('no cell for the column(s) ' . implode(', ', $missing) . ' of ' . $list->table_id);
        }
        $row = &$list->AddRow($id, $values, $link, $title);
        foreach ($cells as $column => $html) {
            $row->AddViewField($column, (string) $html);
        }
        return $row;
    }

    /**
     * The list's headers from a column model of {@see Lists} (label, sort key, shown by default).
     *
     * @param array<string, array{0: string, 1: string, 2: ?string, 3: string, 4: bool}> $columns
     */
    public static function headers(\CAdminList $list, array $columns): void
    {
        $t = self::t();
        $headers = [];
        foreach ($columns as $id => [$label, , $sort, , $shown]) {
            $headers[] = ['id' => $id, 'content' => self::e($t->get($label)), 'default' => $shown] + ($sort !== null ? ['sort' => $sort] : []);
        }
        $list->AddHeaders($headers);
    }

    /** How {@see sorted()} finds a sortable column's row key: the model's sort keys. */
    public static function sorts(array $columns): array
    {
        $sorts = [];
        foreach ($columns as [, , $sort]) {
            if ($sort !== null) {
                $sorts[strtoupper($sort)] = $sort;
            }
        }
        return $sorts;
    }

    /**
     * A row's cells from the model's values, in the site's charset: each as
     * {@see Lists::cell()} renders it, a journal status in words, and the
     * `$open` column linked to the row's own page.
     */
    public static function cells(array $columns, array $values, ?string $open = null, string $url = ''): array
    {
        $t = self::t();
        $cells = [];
        foreach ($columns as $id => [, $kind]) {
            $html = $kind === 'status'
                ? '<span class="smtp34-status status-' . Html::e($values[$id]) . '" title="' . Html::e($values[$id]) . '">' . Html::e(Journal::statusWord($values[$id], $t)) . '</span>'
                : Lists::cell($kind, $values[$id], $t);
            $cells[$id] = self::site($id === $open ? '<a href="' . Html::e($url) . '">' . $html . '</a>' : $html);
        }
        return $cells;
    }

    /** A page of `$rows` with Bitrix's navigation under the list. */
    public static function paged(array $rows, \CAdminList $list, string $title): \CAdminResult
    {
        $result = new \CDBResult();
        $result->InitFromArray($rows);
        $result = new \CAdminResult($result, $list->table_id);
        $result->NavStart(20);
        $list->NavText($result->GetNavPrint(self::site($title)));
        return $result;
    }

    public static function redirect(string $page, array $query = []): void
    {
        LocalRedirect(AdminPage::url($page, $query));
    }
}
