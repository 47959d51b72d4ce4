<?php
declare(strict_types=1);

/**
 * bench/delay_proxy.py in front of a test server: every reply arrives
 * `$ms` milliseconds after the server sent it, as from a provider a round
 * trip away. Connect to `$port`.
 */
final class DelayProxy
{
    use HelperProcess;

    public function __construct(int $upstream, int $ms)
    {
        $command = ['/usr/bin/python3', __DIR__ . '/../../bench/delay_proxy.py', '0', (string) $upstream, (string) $ms];
        $this->startHelper('delay_proxy.py', $command, '/dev/null');
    }
}
