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
