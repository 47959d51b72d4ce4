<?php
// Minimal stand-ins for the few Bitrix core pieces the smtp34.smtp module
// touches. The Bitrix core is proprietary and cannot run here; everything
// else in these tests is real (the extension, SQLite, the module's code).
declare(strict_types=1);

namespace Bitrix\Main {
    class Event
    {
        public function __construct(private string $module, private string $type, private array $parameters = [])
        {
        }

        public function getParameter($key)
        {
            return $this->parameters[$key] ?? null;
        }

        public function getEventType(): string
        {
            return $this->type;
        }
    }

    class EventResult
    {
        public const UNDEFINED = 0;
        public const SUCCESS = 1;
        public const ERROR = 2;

        public function __construct(private int $type, private $parameters = null, private ?string $moduleId = null)
        {
        }

        public function getType(): int
        {
            return $this->type;
        }

        public function getParameters()
        {
            return $this->parameters;
        }
    }

    class EventManager
    {
        private static ?self $instance = null;
        /** @var list<array{0: string, 1: string, 2: string, 3: string, 4: string}> */
        public array $handlers = [];

        public static function getInstance(): self
        {
            return self::$instance ??= new self();
        }

        public function registerEventHandler($fromModule, $event, $toModule, $class = '', $method = ''): void
        {
            $this->handlers[] = [$fromModule, $event, $toModule, $class, $method];
        }

        public function unRegisterEventHandler($fromModule, $event, $toModule, $class = '', $method = ''): void
        {
            $this->handlers = array_values(array_filter($this->handlers, static fn ($h) => $h !== [$fromModule, $event, $toModule, $class, $method]));
        }
    }

    class ModuleManager
    {
        /** @var array<string, true> */
        public static array $installed = [];

        public static function registerModule(string $id): void
        {
            self::$installed[$id] = true;
        }

        public static function unRegisterModule(string $id): void
        {
            unset(self::$installed[$id]);
        }

        public static function isModuleInstalled(string $id): bool
        {
            return isset(self::$installed[$id]);
        }
    }

    class Loader
    {
        public static function includeModule(string $id): bool
        {
            return true;
        }
    }
}

namespace Bitrix\Main\Localization {
    /**
     * Bitrix's Loc: loadMessages(file) finds lang/<lang>/<the file's path
     * below the nearest folder that has lang/> by walking up from the file,
     * includes it ($MESS) and keeps its messages per language.
     */
    class Loc
    {
        /** @var array<string, array<string, string>> language → code → text */
        public static array $messages = [];
        /** @var list<string> lang files read, for tests */
        public static array $loaded = [];
        /** Set: messages come converted to this charset, as newer cores do on a non-UTF-8 site. */
        public static ?string $convertTo = null;

        public static function loadMessages($file): void
        {
            foreach (['ru', 'en'] as $language) {
                $dir = dirname($file);
                while ($dir !== dirname($dir)) {
                    if (is_dir("$dir/lang")) {
                        $langFile = "$dir/lang/$language" . substr($file, strlen($dir));
                        if (is_file($langFile)) {
                            $MESS = [];
                            include $langFile;
                            self::$messages[$language] = $MESS + (self::$messages[$language] ?? []);
                            self::$loaded[] = $langFile;
                        }
                        break;
                    }
                    $dir = dirname($dir);
                }
            }
        }

        public static function getMessage($code, $replace = null, $language = null): ?string
        {
            $language ??= defined('LANGUAGE_ID') ? LANGUAGE_ID : 'ru';
            $text = self::$messages[$language][$code] ?? null;
            if ($text !== null && self::$convertTo !== null) {
                $text = mb_convert_encoding($text, self::$convertTo, 'UTF-8');
            }
            return $text === null || $replace === null ? $text : strtr($text, $replace);
        }
    }
}

namespace Bitrix\Main\Config {
    /** Bitrix's Configuration: the values of /bitrix/.settings.php, set by a test. */
    class Configuration
    {
        public static array $values = [];

        public static function getValue($name)
        {
            return self::$values[$name] ?? null;
        }
    }
}

namespace {
    class CModule
    {
    }

    /** b_agent: the agents registered, as Bitrix's CAgent keeps them. */
    class CAgent
    {
        /** @var list<array{NAME: string, MODULE_ID: string, IS_PERIOD: string, AGENT_INTERVAL: int}> */
        public static array $agents = [];

        public static function AddAgent($name, $module = '', $period = 'N', $interval = 86400, $datecheck = '', $active = 'Y', $next_exec = '', $sort = 100, $user_id = false, $existError = true)
        {
            self::$agents[] = ['NAME' => $name, 'MODULE_ID' => $module, 'IS_PERIOD' => $period, 'AGENT_INTERVAL' => $interval];
            return count(self::$agents);
        }

        public static function RemoveModuleAgents($module)
        {
            self::$agents = array_values(array_filter(self::$agents, static fn ($a) => $a['MODULE_ID'] !== $module));
        }
    }

    /** b_admin_notify: the notifications shown at the top of the admin section. */
    class CAdminNotify
    {
        /** @var list<array<string, string>> */
        public static array $notes = [];

        public static function Add($arFields)
        {
            self::$notes[] = $arFields;
            return count(self::$notes);
        }

        /** Bitrix deletes every notification whose TAG contains $tagId (LIKE '%tag%'). */
        public static function DeleteByTag($tagId)
        {
            if ((string) $tagId === '') {
                return false;
            }
            self::$notes = array_values(array_filter(self::$notes, static fn ($n) => !str_contains($n['TAG'] ?? '', (string) $tagId)));
            return true;
        }

        public static function DeleteByModule($moduleId)
        {
            self::$notes = array_values(array_filter(self::$notes, static fn ($n) => ($n['MODULE_ID'] ?? '') !== $moduleId));
            return true;
        }
    }

    /** What the fake IncludeAdminFile() throws where the kernel would die(). */
    class FakeRequestEnd extends RuntimeException
    {
    }

    /** $APPLICATION: the group right it answers, and what the code asked of it. */
    class FakeApplication
    {
        public array $authForms = [];
        public array $exceptions = [];
        public string $title = '';

        public function __construct(public string $right = 'W')
        {
        }

        public function GetGroupRight(string $module): string
        {
            return $module === 'smtp34.smtp' ? $this->right : 'D';
        }

        public function AuthForm(string $message): void
        {
            $this->authForms[] = $message;
        }

        public function ThrowException(string $message): void
        {
            $this->exceptions[] = $message;
        }

        public function SetTitle(string $title): void
        {
            $this->title = $title;
        }

        public function GetTitle(): string
        {
            return $this->title;
        }

        /** As the kernel's: the title, the file between the admin prolog and epilog, then the end of the request (here: an exception). */
        public function IncludeAdminFile($strTitle, $filepath): never
        {
            $this->title = $strTitle;
            $APPLICATION = $this;
            include $filepath;
            throw new FakeRequestEnd($filepath);
        }

        public function GetCurPage(): string
        {
            return (string) parse_url($_SERVER['REQUEST_URI'] ?? '/bitrix/admin/index.php', PHP_URL_PATH);
        }
    }


    /** As Bitrix's: UTF-8 on a UTF-8 site, byte for byte (ISO-8859-1) on any other. */
    function htmlspecialcharsbx($string, $flags = ENT_COMPAT, $doubleEncode = true)
    {
        $utf8 = !defined('LANG_CHARSET') || strcasecmp(LANG_CHARSET, 'UTF-8') === 0;
        return htmlspecialchars((string) $string, $flags, $utf8 ? 'UTF-8' : 'ISO-8859-1', $doubleEncode);
    }

    function bitrix_sessid_post($varname = 'sessid'): string
    {
        return '<input type="hidden" name="' . $varname . '" id="' . $varname . '" value="' . bitrix_sessid() . '" />';
    }

    function bitrix_sessid_get($varname = 'sessid'): string
    {
        return $varname . '=' . bitrix_sessid();
    }

    /** Bitrix's sorting of a list: the column and order asked for (by, order), else the initial ones. */
    class CAdminSorting
    {
        public function __construct(public $table_id, public $by_initial = false, public $order_initial = false, public $by_name = 'by', public $ord_name = 'order')
        {
        }

        public function getField()
        {
            return (string) ($_REQUEST[$this->by_name] ?? $this->by_initial);
        }

        public function getOrder()
        {
            return (string) ($_REQUEST[$this->ord_name] ?? $this->order_initial);
        }
    }

    /** A row of CAdminList: its fields and its context menu. */
    class CAdminListRow
    {
        public $id;
        public $arRes = [];
        public $link;
        public $title;
        public array $aFields = [];
        public array $aActions = [];

        public function AddViewField($id, $sHTML)
        {
            $this->aFields[$id]['view'] = ['type' => 'html', 'value' => $sHTML];
        }

        public function AddField($id, $text, $edit = false, $bEscape = true)
        {
            $this->aFields[$id]['view'] = ['type' => 'html', 'value' => $bEscape ? htmlspecialcharsbx($text) : $text];
        }

        public function AddCheckField($id, $arAttributes = [])
        {
            $this->aFields[$id]['view'] = ['type' => 'checkbox'];
        }

        public function AddActions($aActions)
        {
            $this->aActions = $aActions;
        }
    }

    /**
     * Bitrix's CAdminList, as far as the module uses it. DisplayList() prints
     * a plain table (no script) with what the real one shows: headers with
     * sort links, rows with their context menus, group actions, the
     * context menu above and the navigation below.
     */
    class CAdminList
    {
        public array $aHeaders = [];
        /** @var list<CAdminListRow> */
        public array $aRows = [];
        public array $arActions = [];
        public array $aFooter = [];
        public array $context = [];
        public string $sNavText = '';
        /** Null, as the kernel's, until a filter is set. */
        public ?array $filter = null;

        public function __construct(public $table_id, public $sort = false)
        {
        }

        public function AddHeaders($aParams)
        {
            foreach ($aParams as $param) {
                $this->aHeaders[$param['id']] = $param;
            }
        }

        public function &AddRow($id = false, $arRes = [], $link = false, $title = false)
        {
            $row = new CAdminListRow();
            [$row->id, $row->arRes, $row->link, $row->title] = [$id, $arRes, $link, $title];
            $this->aRows[] = &$row;
            return $row;
        }

        public function AddFooter($aFooter)
        {
            $this->aFooter = $aFooter;
        }

        public function NavText($sNavText)
        {
            $this->sNavText = $sNavText;
        }

        public function AddGroupActionTable($arActions, $arParams = [])
        {
            $this->arActions = $arActions;
        }

        public function AddAdminContextMenu($aContext = [], $bShowExcel = true, $bShowSettings = true)
        {
            $this->context = $aContext;
        }

        /** The ids of a group action (['' ] for "all"), or false without one or without the sessid. */
        public function GroupAction()
        {
            if (!empty($_REQUEST['action_button'])) {
                $_REQUEST['action'] = $_REQUEST['action_button'];
            }
            if (!check_bitrix_sessid() || ($_REQUEST['action'] ?? null) === null) {
                return false;
            }
            if (($_REQUEST['action_target'] ?? '') === 'selected') {
                return [''];
            }
            return isset($_REQUEST['ID']) ? (array) $_REQUEST['ID'] : false;
        }

        public function GetAction()
        {
            return $_REQUEST['action'] ?? null;
        }

        /**
         * As the kernel's (main/interface/admin_list.php, filter_tools.php):
         * set_filter stores the fields' values for this table in the session,
         * del_filter forgets them, any other request takes them back from the
         * session. Only fields with a value are returned, and the answer is
         * null while no filter was ever set.
         */
        public function InitFilter($arFilterFields)
        {
            $saved = &$_SESSION['SESS_ADMIN'][$this->table_id];
            if (isset($_REQUEST['del_filter']) && $_REQUEST['del_filter'] !== '') {
                $saved = [];
            } elseif (isset($_REQUEST['set_filter']) && $_REQUEST['set_filter'] !== '') {
                $saved = [];
                foreach ($arFilterFields as $field) {
                    $saved[$field] = $_REQUEST[$field] ?? null;
                }
            }
            foreach ($arFilterFields as $field) {
                $GLOBALS[$field] = $saved[$field] ?? null;
                if (isset($GLOBALS[$field])) {
                    $this->filter[$field] = $GLOBALS[$field];
                }
            }
            return $this->filter;
        }

        public function ActionRedirect($url)
        {
            return "BX.adminPanel.Redirect([], '" . $url . "', event);";
        }

        public function ActionDoGroup($id, $action_id, $add_params = '')
        {
            return $this->table_id . ".GetAdminList('?ID=" . $id . '&action_button=' . $action_id . '&' . bitrix_sessid_get() . ($add_params !== '' ? '&' . $add_params : '') . "');";
        }

        public function CheckListMode()
        {
        }

        public function DisplayList($arParams = [])
        {
            echo '<div class="adm-list-table-wrap" id="' . $this->table_id . '_result_div">';
            foreach ($this->context as $item) {
                echo '<a class="adm-btn context" href="' . htmlspecialcharsbx($item['LINK'] ?? '#') . '">' . $item['TEXT'] . '</a>';
            }
            echo '<form method="POST" name="form_' . $this->table_id . '">' . bitrix_sessid_post();
            echo '<table class="adm-list-table" id="' . $this->table_id . '"><thead><tr>';
            foreach ($this->aHeaders as $id => $header) {
                $sort = $this->sort && !empty($header['sort']) ? ' data-sort="' . htmlspecialcharsbx($header['sort']) . '"' : '';
                echo '<td class="adm-list-table-cell" data-id="' . $id . '"' . $sort . '>' . $header['content'] . '</td>';
            }
            echo '</tr></thead><tbody>';
            foreach ($this->aRows as $row) {
                echo '<tr class="adm-list-table-row" data-id="' . htmlspecialcharsbx((string) $row->id) . '">';
                foreach (array_keys($this->aHeaders) as $id) {
                    // as the kernel's row: a view field, else arRes under the column's own id, else a blank
                    $view = $row->aFields[$id]['view'] ?? null;
                    $value = $view !== null && $view['type'] === 'html' ? $view['value'] : htmlspecialcharsbx(is_scalar($row->arRes[$id] ?? null) ? trim((string) $row->arRes[$id]) : '');
                    echo '<td class="adm-list-table-cell" data-column="' . $id . '">' . ((string) $value !== '' ? $value : '&nbsp;') . '</td>';
                }
                echo '<td class="row-actions">';
                foreach ($row->aActions as $action) {
                    if (isset($action['SEPARATOR'])) {
                        continue;
                    }
                    echo '<span class="row-action" data-icon="' . htmlspecialcharsbx($action['ICON'] ?? '') . '" data-action="' . htmlspecialcharsbx($action['ACTION'] ?? '') . '">' . $action['TEXT'] . '</span>';
                }
                echo '</td></tr>';
            }
            echo '</tbody></table>';
            if ($this->arActions !== []) {
                echo '<select name="action" class="group-actions">';
                foreach ($this->arActions as $value => $text) {
                    echo '<option value="' . htmlspecialcharsbx((string) $value) . '">' . htmlspecialcharsbx(is_array($text) ? $text['name'] : $text) . '</option>';
                }
                echo '</select>';
            }
            foreach ($this->aFooter as $footer) {
                echo '<span class="footer">' . $footer['title'] . ': ' . $footer['value'] . '</span>';
            }
            echo '</form>' . $this->sNavText . '</div>';
        }
    }

    /** Bitrix's CDBResult over an array, with its page navigation. */
    class CDBResult
    {
        public array $arResult = [];
        public int $NavPageCount = 1;
        public int $NavPageNomer = 1;
        public int $NavRecordCount = 0;

        public function InitFromArray($arr)
        {
            $this->arResult = array_values($arr);
            $this->NavRecordCount = count($this->arResult);
        }

        /** Keeps the page asked for by PAGEN_1 (SIZEN_1 rows a page), as Bitrix does. */
        public function NavStart($nPageSize = 20, $bShowAll = true, $iNumPage = false)
        {
            $size = (int) ($_REQUEST['SIZEN_1'] ?? $nPageSize);
            $this->NavPageCount = max(1, (int) ceil($this->NavRecordCount / $size));
            $this->NavPageNomer = min(max(1, (int) ($iNumPage ?: ($_REQUEST['PAGEN_1'] ?? 1))), $this->NavPageCount);
            $this->arResult = array_slice($this->arResult, ($this->NavPageNomer - 1) * $size, $size);
        }

        public function Fetch()
        {
            return array_shift($this->arResult) ?? false;
        }

        public function NavNext($bSetGlobalVars = true, $strPrefix = 'str_', $bDoEncode = true)
        {
            return $this->Fetch();
        }

        public function SelectedRowsCount()
        {
            return $this->NavRecordCount;
        }

        public function GetNavPrint($title, $show_allways = false)
        {
            $html = '<div class="adm-navigation" data-page="' . $this->NavPageNomer . '" data-pages="' . $this->NavPageCount . '">' . $title . ' ' . $this->NavRecordCount;
            for ($page = 1; $page <= $this->NavPageCount; $page++) {
                $html .= ' <a href="?PAGEN_1=' . $page . '">' . $page . '</a>';
            }
            return $html . '</div>';
        }
    }

    class CAdminResult extends CDBResult
    {
        public function __construct($res, $table_id)
        {
            $this->arResult = $res->arResult;
            $this->NavRecordCount = $res->NavRecordCount;
        }
    }

    /** Bitrix's filter box above a list: Begin/Buttons/End around the page's own rows. */
    class CAdminFilter
    {
        public function __construct(public $id, public $popup = false, public $arExtraParams = [])
        {
        }

        public function Begin()
        {
            echo '<table class="adm-filter" id="' . $this->id . '">';
        }

        public function Buttons($aParams = false)
        {
            echo '<tr><td colspan="2"><input type="submit" name="set_filter" value="Y"> <input type="submit" name="del_filter" value="Y"></td></tr>';
        }

        public function End()
        {
            echo '</table>';
        }
    }

    /** CAdminMessage: the admin section's message boxes. */
    class CAdminMessage
    {
        public static function ShowMessage($message)
        {
            $message = is_array($message) ? $message : ['MESSAGE' => $message, 'TYPE' => 'ERROR'];
            echo '<div class="adm-info-message ' . strtolower($message['TYPE'] ?? 'error') . '">' . ($message['HTML'] ?? false ? $message['MESSAGE'] : htmlspecialcharsbx($message['MESSAGE'])) . (isset($message['DETAILS']) ? '<div class="details">' . $message['DETAILS'] . '</div>' : '') . '</div>';
        }

        public static function ShowNote($strText)
        {
            self::ShowMessage(['MESSAGE' => $strText, 'TYPE' => 'OK']);
        }
    }

    /** Bitrix's tabs: each tab a table body; Buttons() opens the form's button bar. */
    class CAdminTabControl
    {
        public int $tabIndex = -1;

        public function __construct(public $name, public $tabs, public $bCanExpand = true, public $bDenyAutosave = false)
        {
        }

        public function Begin()
        {
            echo '<div class="adm-detail-block" id="' . $this->name . '_layout">';
        }

        public function BeginNextTab()
        {
            if ($this->tabIndex >= 0) {
                echo '</table></div>';
            }
            $tab = $this->tabs[++$this->tabIndex];
            echo '<div class="adm-detail-content" id="' . $tab['DIV'] . '" data-tab="' . htmlspecialcharsbx($tab['TAB']) . '"><table class="adm-detail-content-table edit-table">';
        }

        public function Buttons($aParams = false)
        {
            echo '</table></div><div class="adm-detail-content-btns">';
            $this->tabIndex = -1;
        }

        public function End()
        {
            echo '</div></div>';
        }

        public function ActiveTabParam()
        {
            return $this->name . '_active_tab=' . ($this->tabs[0]['DIV'] ?? '');
        }
    }

    /** Bitrix's CAdminForm: fields gathered per tab, printed by Show(). */
    class CAdminForm extends CAdminTabControl
    {
        public array $fields = [];
        public string $epilog = '';
        public array $beginParams = [];
        public array $buttons = [];
        private int $current = -1;
        private ?string $custom = null;

        public function Begin($arParams = [])
        {
            $this->beginParams = $arParams;
        }

        public function BeginNextFormTab()
        {
            $this->current++;
        }

        public function BeginEpilogContent()
        {
            ob_start();
        }

        public function EndEpilogContent()
        {
            $this->epilog .= ob_get_clean();
        }

        public function BeginPrologContent()
        {
            ob_start();
        }

        public function EndPrologContent()
        {
            echo ob_get_clean();
        }

        private function add(string $id, string $label, bool $required, string $html): void
        {
            $this->fields[$this->current][$id] = '<tr id="tr_' . $id . '"><td class="adm-detail-content-cell-l">' . ($required ? '<span class="adm-required-field">' . $label . '</span>' : $label) . ':</td><td class="adm-detail-content-cell-r">' . $html . '</td></tr>';
        }

        public function AddEditField($id, $content, $required, $arParams = [], $value = false)
        {
            $this->add($id, $content, (bool) $required, '<input type="text" name="' . $id . '" value="' . htmlspecialcharsbx((string) $value) . '">');
        }

        public function AddCheckBoxField($id, $content, $required, $value, $checked, $arParams = [])
        {
            $this->add($id, $content, (bool) $required, '<input type="hidden" name="' . $id . '" value="N"><input type="checkbox" name="' . $id . '" value="' . htmlspecialcharsbx((string) $value) . '"' . ($checked ? ' checked' : '') . '>');
        }

        public function AddDropDownField($id, $content, $required, $arSelect, $value = false, $arParams = [])
        {
            $options = '';
            foreach ($arSelect as $key => $text) {
                $options .= '<option value="' . htmlspecialcharsbx((string) $key) . '"' . ((string) $key === (string) $value ? ' selected' : '') . '>' . htmlspecialcharsbx($text) . '</option>';
            }
            $this->add($id, $content, (bool) $required, '<select name="' . $id . '">' . $options . '</select>');
        }

        public function AddViewField($id, $content, $html)
        {
            $this->add($id, $content, false, $html);
        }

        public function AddSection($id, $content, $required = false)
        {
            $this->fields[$this->current][$id] = '<tr class="heading" id="tr_' . $id . '"><td colspan="2">' . $content . '</td></tr>';
        }

        public function BeginCustomField($id, $content, $required = false)
        {
            $this->custom = $id;
            ob_start();
        }

        public function EndCustomField($id, $hidden = '')
        {
            $this->fields[$this->current][$id] = ob_get_clean();
            $this->custom = null;
        }

        public function Buttons($aParams = false, $additional_html = '')
        {
            $this->buttons = ['params' => $aParams, 'html' => $additional_html];
        }

        public function Show()
        {
            echo '<form method="POST" action="' . htmlspecialcharsbx($this->beginParams['FORM_ACTION'] ?? '') . '" name="' . $this->name . '_form">';
            foreach ($this->tabs as $i => $tab) {
                echo '<div class="adm-detail-content" id="' . $tab['DIV'] . '" data-tab="' . htmlspecialcharsbx($tab['TAB']) . '"><table class="adm-detail-content-table edit-table">'
                    . implode('', $this->fields[$i] ?? []) . '</table></div>';
            }
            echo '<div class="adm-detail-content-btns">';
            // as the kernel's CAdminTabControl::Buttons(): false shows only the page's own buttons
            foreach (($this->buttons['params'] ?? []) === false ? [] : ['save', 'apply', 'cancel'] as $button) {
                echo '<input type="submit" name="' . $button . '" value="Y">';
            }
            echo $this->buttons['html'] ?? '', '</div>', $this->epilog, '</form>';
        }
    }

    class CUtil
    {
        public static function JSEscape($s)
        {
            return str_replace(["\\", "'", '"', "\r", "\n"], ["\\\\", "\\'", '\\"', '', '\\n'], (string) $s);
        }
    }

    function bitrix_sessid(): string
    {
        return 'fake-bitrix-sessid';
    }

    function check_bitrix_sessid(): bool
    {
        return ($_REQUEST['sessid'] ?? '') === bitrix_sessid();
    }

    function LocalRedirect(string $url): void
    {
        $GLOBALS['SMTP34_FAKE_REDIRECTS'][] = $url;
    }

    /** Copies real files, as Bitrix's CopyDirFiles does for a flat folder. */
    function CopyDirFiles(string $from, string $to, bool $rewrite = true, bool $recursive = false): bool
    {
        @mkdir($to, 0777, true);
        foreach (glob("$from/*") as $file) {
            copy($file, "$to/" . basename($file));
        }
        return true;
    }

    /** Deletes from $to the files that $from has, as Bitrix's DeleteDirFiles does. */
    function DeleteDirFiles(string $from, string $to): bool
    {
        foreach (glob("$from/*") as $file) {
            @unlink("$to/" . basename($file));
        }
        return true;
    }
}
