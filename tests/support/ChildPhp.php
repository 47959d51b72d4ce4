<?php
declare(strict_types=1);

/**
 * Runs PHP code in a separate PHP process with the extension loaded and its
 * own php.ini entries: for what one process cannot show (PHP_INI_SYSTEM
 * paths, several workers at once, PHP's own mail()).
 */
final class ChildPhp
{
    /**
     * @param array<string, string> $ini
     * @param array<string, string> $env
     * @return array{code: int, stdout: string, stderr: string, seconds: float}
     */
    public static function run(string $code, array $ini = [], array $env = [], bool $withExtension = true, int $killAfter = 0): array
    {
        $process = self::start($code, $ini, $env, $withExtension, $killAfter);
        return $process();
    }

    /**
     * Starts the process now; the returned closure waits for it.
     * @param array<string, string> $ini
     * @param array<string, string> $env
     * @return callable(): array{code: int, stdout: string, stderr: string, seconds: float}
     */
    public static function start(string $code, array $ini = [], array $env = [], bool $withExtension = true, int $killAfter = 0): callable
    {
        // $killAfter > 0: a process that hangs is killed then (exit code 137) instead of hanging the suite
        $command = $killAfter > 0 ? ['timeout', '-s', 'KILL', (string) $killAfter] : [];
        array_push($command, PHP_BINARY, '-n', '-d', 'display_errors=stderr', '-d', 'log_errors=0');
        if ($withExtension) {
            array_push($command, '-d', 'extension=' . self::extension());
        }
        foreach (['pdo', 'pdo_sqlite', 'sqlite3', 'mbstring'] as $module) {
            // -n drops Debian's conf.d; keep what tests themselves use
            if (extension_loaded($module) && !self::builtin($module)) {
                array_push($command, '-d', "extension=$module");
            }
        }
        foreach ($ini as $name => $value) {
            array_push($command, '-d', "$name=$value");
        }
        $file = tempnam(sys_get_temp_dir(), 'smtp34-child-');
        file_put_contents($file, "<?php\n" . $code);
        $command[] = $file;
        $started = microtime(true);
        $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env + getenv());
        return static function () use ($process, $pipes, $started, $file): array {
            $stdout = stream_get_contents($pipes[1]);
            $stderr = stream_get_contents($pipes[2]);
            $code = proc_close($process);
            @unlink($file);
            return ['code' => $code, 'stdout' => (string) $stdout, 'stderr' => (string) $stderr, 'seconds' => microtime(true) - $started];
        };
    }

    public static function extension(): string
    {
        $path = getenv('SMTP34_EXTENSION');
        if (!$path) {
            throw new RuntimeException('SMTP34_EXTENSION is not set (run the suite with .ci/test)');
        }
        return $path;
    }

    private static function builtin(string $module): bool
    {
        static $builtin = null;
        if ($builtin === null) {
            exec(escapeshellarg(PHP_BINARY) . ' -n -m', $builtin);
            $builtin = array_map('strtolower', $builtin);
        }
        return in_array(strtolower($module), $builtin, true);
    }

    /** Fresh, private paths for one child's database, key and logs. @return array<string, string> */
    public static function freshIni(): array
    {
        $dir = sys_get_temp_dir() . '/smtp34-child-' . bin2hex(random_bytes(6));
        mkdir($dir, 0700, true);
        return ['smtp34.db' => "$dir/smtp34.db", 'smtp34.key_file' => "$dir/smtp34.key", 'smtp34.log_dir' => "$dir/logs"];
    }
}
