<?php
declare(strict_types=1);

/**
 * A helper server the tests start (tests/smtp_server.py, bench/delay_proxy.py):
 * it prints "READY <port>" once it listens and runs until it is stopped.
 */
trait HelperProcess
{
    public int $port;
    /** @var resource|null */
    private $process = null;
    /** @var array<int, resource> */
    private array $pipes = [];

    /** Starts `$command` (`$name` in errors), its stderr to `$log`, and waits for its port. */
    private function startHelper(string $name, array $command, string $log): void
    {
        $this->process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['file', $log, 'w']], $this->pipes) ?: null;
        if ($this->process === null) {
            throw new RuntimeException("cannot start $name");
        }
        $line = fgets($this->pipes[1]);
        if (!is_string($line) || !preg_match('/^READY (\d+)/', $line, $m)) {
            throw new RuntimeException("$name did not start: " . @file_get_contents($log));
        }
        $this->port = (int) $m[1];
    }

    /** The helper's process id (to freeze it with SIGSTOP, say). */
    public function pid(): int
    {
        return (int) proc_get_status($this->process)['pid'];
    }

    public function stop(): void
    {
        if (is_resource($this->process)) {
            proc_terminate($this->process, 9);
            proc_close($this->process);
        }
    }

    public function __destruct()
    {
        $this->stop();
    }
}
