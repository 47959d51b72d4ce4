<?php
declare(strict_types=1);

/**
 * bench/delay_proxy.py in front of a test server: every reply arrives
 * `$ms` milliseconds after the server sent it, as from a provider a round
 * trip away. Connect to `$port`.
 */
final class DelayProxy
{
    public int $port;
    /** @var resource */
    private $process;
    /** @var array<int, resource> */
    private array $pipes = [];

    public function __construct(int $upstream, int $ms)
    {
        $command = ['/usr/bin/python3', __DIR__ . '/../../bench/delay_proxy.py', '0', (string) $upstream, (string) $ms];
        $this->process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['file', '/dev/null', 'w']], $this->pipes);
        $line = is_resource($this->process) ? fgets($this->pipes[1]) : false;
        if (!is_string($line) || !preg_match('/^READY (\d+)/', $line, $m)) {
            throw new RuntimeException('delay_proxy.py did not start');
        }
        $this->port = (int) $m[1];
    }

    public function __destruct()
    {
        if (is_resource($this->process)) {
            proc_terminate($this->process, 9);
            proc_close($this->process);
        }
    }
}
