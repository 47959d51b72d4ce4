<?php
declare(strict_types=1);

/**
 * A PHP fatal error inside custom_mail() (max_execution_time, memory_limit)
 * longjmps over the extension's frames. php-fpm workers survive fatals, so
 * every later call in that worker must still work: the extension holds no
 * lock across a call into PHP, and journals the interrupted hand-over.
 */
final class FatalErrorTest extends Smtp34TestCase
{
    /** @return array{code: int, stdout: string, stderr: string, seconds: float} */
    private function runUntilFatal(string $loop): array
    {
        $out = sys_get_temp_dir() . '/smtp34-sendmail-' . bin2hex(random_bytes(4));
        file_put_contents("$out.sh", "#!/bin/sh\ncat > /dev/null\n");
        chmod("$out.sh", 0700);
        $code = <<<'PHP'
            smtp34_settings(['enabled' => false]); // the state after install: every letter goes to mail()
            register_shutdown_function(static function (): void {
                $started = microtime(true);
                $returned = custom_mail('after@mail.ru', 's', "b\n", 'From: shop@site.ru');
                printf("shutdown call returned %s in %.1f s\n", var_export($returned, true), microtime(true) - $started);
                foreach (smtp34_journal(100000) as $row) {
                    if ($row['recipients'] !== 'loop@mail.ru' || $row['status'] !== 'disabled') {
                        echo "row: {$row['recipients']} {$row['status']}: {$row['reply']}\n";
                    }
                }
            });
            PHP . $loop;
        $result = ChildPhp::run($code, ChildPhp::freshIni() + ['sendmail_path' => "$out.sh"], [], true, 30);
        @unlink("$out.sh");
        return $result;
    }

    public function testMaxExecutionTimeInsideCustomMailLeavesTheWorkerUsable(): void
    {
        // The issue's reproduction: the time limit strikes wherever the loop is.
        // With a 1 MB letter most of the CPU time goes to custom_mail() before
        // and inside mail(), so the engine notices the limit as mail() returns,
        // inside the extension's frames; a rare run where it lands in the loop
        // itself proves less, so one more run is allowed for that.
        for ($run = 1; $run <= 2; $run++) {
            $result = $this->runUntilFatal(<<<'PHP'
                $body = str_repeat("line of a long letter\n", 50000);
                set_time_limit(1);
                while (true) {
                    custom_mail('loop@mail.ru', 's', $body, 'From: shop@site.ru');
                }
                PHP);
            $context = json_encode($result);
            $this->assertNotSame(137, $result['code'], "the worker hung and was killed: $context");
            $this->assertStringContainsString('Maximum execution time of 1 second exceeded', $result['stderr'], $context);
            $this->assertMatchesRegularExpression('/shutdown call returned true in 0\.\d s/', $result['stdout'], $context);
            $this->assertStringContainsString("row: after@mail.ru disabled: smtp34 is disabled (setting 'enabled'); PHP mail() returned true", $result['stdout']);
            $this->assertStringNotContainsString('has not answered', $result['stdout'], 'every row is completed');
            if (str_contains($result['stdout'], 'row: loop@mail.ru interrupted')) {
                break;
            }
        }
        $this->assertStringContainsString("row: loop@mail.ru interrupted: smtp34 is disabled (setting 'enabled'); PHP mail() ended in a fatal error", $result['stdout']);
    }

    public function testAMemoryFatalInsideMailIsJournaledAndTheNextCallWorks(): void
    {
        // mail() runs out of memory_limit copying the headers; PHP unwinds mail()
        // itself (it returns false), then ends the script
        $result = $this->runUntilFatal(<<<'PHP'
            $headers = "From: shop@site.ru\r\nX-Pad: " . str_repeat('a', 6 * 1024 * 1024);
            ini_set('memory_limit', (string) (memory_get_usage() + 3 * 1024 * 1024));
            custom_mail('big@mail.ru', 's', "b\n", $headers);
            echo "not reached\n";
            PHP);

        $this->assertNotSame(137, $result['code'], 'the worker hung and was killed');
        $this->assertStringContainsString('Allowed memory size', $result['stderr']);
        $this->assertStringNotContainsString('not reached', $result['stdout']);
        $this->assertStringContainsString('shutdown call returned true', $result['stdout']);
        $this->assertStringContainsString("row: big@mail.ru disabled: smtp34 is disabled (setting 'enabled'); PHP mail() returned false", $result['stdout'],
            'the row of the letter is completed, not left waiting for an answer');
    }
}
