<?php
declare(strict_types=1);

/**
 * OAuth 2.0 accounts (SPEC §9) against a local provider (tests/oauth_provider.py:
 * PKCE, code and refresh grants, rotation, invalid_grant on demand) and aiosmtpd
 * offering only AUTH XOAUTH2, which accepts just the tokens that provider issued.
 */
final class OAuthTest extends Smtp34TestCase
{
    private string $dir;
    /** @var resource */
    private $provider;
    private int $providerPort;

    protected function setUp(): void
    {
        parent::setUp();
        $this->dir = sys_get_temp_dir() . '/smtp34-oauth-' . bin2hex(random_bytes(4));
        mkdir($this->dir);
        $this->provider = proc_open(['/usr/bin/python3', __DIR__ . '/../oauth_provider.py', $this->dir], [1 => ['pipe', 'w'], 2 => ['file', "$this->dir/provider.log", 'w']], $pipes);
        $line = (string) fgets($pipes[1]);
        $this->assertMatchesRegularExpression('/^READY \d+/', $line, (string) @file_get_contents("$this->dir/provider.log"));
        $this->providerPort = (int) substr($line, 6);
    }

    protected function tearDown(): void
    {
        proc_terminate($this->provider, 9);
        proc_close($this->provider);
        parent::tearDown();
        array_map('unlink', glob("$this->dir/*") ?: []);
        @rmdir($this->dir);
    }

    private function xoauth2Server(): SmtpServer
    {
        return $this->server(['auth' => 'unused:unused', 'auth-only' => 'XOAUTH2', 'xoauth2-tokens' => "$this->dir/tokens", 'xoauth2-user' => 'shop@site.ru']);
    }

    private function oauthAccount(SmtpServer $server, array $fields = []): int
    {
        $base = "http://127.0.0.1:$this->providerPort";
        return smtp34_account_save($fields + [
            'name' => 'Магазин', 'email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => $server->port, 'security' => 'none',
            'auth' => 'xoauth2', 'login' => 'shop@site.ru', 'oauth_provider' => 'custom', 'oauth_client_id' => 'client-1',
            'oauth_client_secret' => 'secret-1', 'oauth_authorize_url' => "$base/authorize", 'oauth_token_url' => "$base/token",
            'oauth_scope' => 'smtp offline_access',
        ]);
    }

    /** The admin consents at the provider, which sends the browser back with code and state. */
    private function consent(string $url): array
    {
        $context = stream_context_create(['http' => ['follow_location' => 0, 'ignore_errors' => true]]);
        file_get_contents($url, false, $context);
        $location = '';
        foreach ($http_response_header as $header) {
            if (stripos($header, 'Location: ') === 0) {
                $location = substr($header, 10);
            }
        }
        $this->assertStringStartsWith('https://site.ru/bitrix/admin/smtp34_oauth.php?', $location, implode("\n", $http_response_header));
        parse_str((string) parse_url($location, PHP_URL_QUERY), $query);
        return [$query['state'], $query['code']];
    }

    private function connect(int $id): void
    {
        [$state, $code] = $this->consent(smtp34_oauth_start($id, 'https://site.ru/bitrix/admin/smtp34_oauth.php?lang=ru'));
        $this->assertSame($id, smtp34_oauth_finish($state, $code));
    }

    /** @return list<string> the provider's token requests, oldest first */
    private function requests(): array
    {
        return file("$this->dir/requests", FILE_IGNORE_NEW_LINES) ?: [];
    }

    private function secrets(): array
    {
        $tokens = array_map(static fn ($l) => explode(' ', $l)[0], file("$this->dir/tokens", FILE_IGNORE_NEW_LINES) ?: []);
        return array_merge(['secret-1'], $tokens);
    }

    public function testConnectSendRefreshBeforeExpiryAndKeepARotatedRefreshToken(): void
    {
        $server = $this->xoauth2Server();
        $id = $this->oauthAccount($server);
        $before = smtp34_account_get($id);
        $this->assertFalse($before['oauth_connected']);
        $this->assertTrue($before['has_client_secret']);
        $this->assertTrue(custom_mail('user@mail.ru', 'before', "b\n", 'From: shop@site.ru'), 'not connected: the letter waits');
        $this->assertSame('queued', $this->lastJournal()['status']);
        $this->assertStringContainsString('connect it', $this->lastJournal()['reply']);

        file_put_contents("$this->dir/expires_in", '3600');
        $this->connect($id);
        $account = smtp34_account_get($id);
        $this->assertTrue($account['oauth_connected']);
        $this->assertEqualsWithDelta(time() + 3600, $account['oauth_expires_at'], 10);
        $this->assertSame('', $account['oauth_error']);
        $this->assertSame(['authorization_code ok'], $this->requests());

        $this->assertTrue(custom_mail('user@mail.ru', 'connected', "b\n", 'From: shop@site.ru'));
        $this->assertSame('sent', $this->lastJournal()['status'], $this->lastJournal()['reply']);
        $this->assertSame('shop@site.ru', $server->received()[0]['meta']['login']);
        $this->assertSame(['authorization_code ok'], $this->requests(), 'a token with an hour left is used as it is');

        // tokens that live under 5 minutes are refreshed before AUTH; a rotated refresh token is kept at once
        file_put_contents("$this->dir/expires_in", '200');
        $this->connect($id);
        touch("$this->dir/rotate");
        smtp34_settings(['keepalive_seconds' => 0]);
        $this->assertTrue(custom_mail('user@mail.ru', 'refresh 1', "b\n", 'From: shop@site.ru'));
        $this->assertTrue(custom_mail('user@mail.ru', 'refresh 2', "b\n", 'From: shop@site.ru'));
        $this->assertTrue(custom_mail('user@mail.ru', 'refresh 3', "b\n", 'From: shop@site.ru'));
        $this->assertSame(['authorization_code ok', 'authorization_code ok', 'refresh_token ok rotated', 'refresh_token ok rotated', 'refresh_token ok rotated'], $this->requests());
        $this->assertSame(['sent', 'sent', 'sent'], array_column(array_slice(smtp34_journal(3), 0, 3), 'status'));

        $flushed = smtp34_outbox_flush(10, true);
        $this->assertSame(1, $flushed['sent'], 'the letter that waited for the connection goes too');

        $shown = var_export([smtp34_account_list(), smtp34_journal(50), smtp34_outbox_list()], true);
        foreach (smtp34_log_list() as $log) {
            $shown .= smtp34_log_read($log['name']);
        }
        foreach ($this->secrets() as $secret) {
            $this->assertStringNotContainsString($secret, $shown);
        }
    }

    public function testARefusedRefreshKeepsTheLetterAndAsksToReconnect(): void
    {
        $server = $this->xoauth2Server();
        $id = $this->oauthAccount($server);
        file_put_contents("$this->dir/expires_in", '100');
        $this->connect($id);
        touch("$this->dir/revoke");

        $this->assertTrue(custom_mail('user@mail.ru', 'kept', "b\n", 'From: shop@site.ru'));
        $row = $this->lastJournal();
        $this->assertSame('queued', $row['status']);
        $this->assertStringContainsString('reconnect the account', $row['reply']);
        $account = smtp34_account_get($id);
        $this->assertFalse($account['oauth_connected']);
        $this->assertStringContainsString('reconnect the account', $account['oauth_error']);
        $this->assertGreaterThan(0, $account['failures']);
        $this->assertCount(1, smtp34_outbox_list());
        $this->assertSame([], $server->received(), 'never sent through another mechanism');
        $alerts = array_column(smtp34_maintain()['alerts'], 'event', 'account_id');
        $this->assertSame('oauth_refused', $alerts[$id] ?? null, 'and an alert says to reconnect it');

        unlink("$this->dir/revoke");
        file_put_contents("$this->dir/expires_in", '3600');
        $this->connect($id);
        $this->assertSame('', smtp34_account_get($id)['oauth_error']);
        $flushed = smtp34_outbox_flush(10, true);
        $this->assertSame(1, $flushed['sent'], json_encode($flushed));
        $this->assertCount(1, $server->received());
    }

    public function testMaintainRefreshesTokensIdleForThreeDaysOnly(): void
    {
        $server = $this->xoauth2Server();
        $id = $this->oauthAccount($server);
        $this->connect($id);
        $this->assertSame(0, smtp34_maintain()['tokens_refreshed'], 'refreshed just now');
        self::sqlite(ini_get('smtp34.db'), 'UPDATE oauth_tokens SET refreshed_at = ' . (time() - 3 * 86400 - 60));
        $done = smtp34_maintain();
        $this->assertSame(1, $done['tokens_refreshed']);
        $this->assertSame(['sent' => 0, 'failed' => 0, 'left' => 0], $done['flushed']);
        $this->assertSame(['authorization_code ok', 'refresh_token ok'], $this->requests());
        $this->assertEqualsWithDelta(time(), smtp34_account_get($id)['oauth_refreshed_at'], 5);
        $this->assertSame(0, smtp34_maintain()['tokens_refreshed']);
    }

    public function testAStateWorksOnceAndACodeNeedsItsOwnVerifier(): void
    {
        $id = $this->oauthAccount($this->xoauth2Server());
        [$stateA, $codeA] = $this->consent(smtp34_oauth_start($id, 'https://site.ru/bitrix/admin/smtp34_oauth.php'));
        [$stateB] = $this->consent(smtp34_oauth_start($id, 'https://site.ru/bitrix/admin/smtp34_oauth.php'));
        try {
            smtp34_oauth_finish($stateB, $codeA);
            $this->fail('a code finished with another flow\'s verifier');
        } catch (Smtp34\Exception $e) {
            $this->assertStringContainsString('invalid_grant', $e->getMessage());
        }
        $this->assertSame(['authorization_code invalid_grant'], $this->requests(), 'the provider saw the PKCE mismatch');
        try {
            smtp34_oauth_finish($stateB, $codeA);
            $this->fail('a state worked twice');
        } catch (Smtp34\Exception $e) {
            $this->assertStringContainsString('unknown or expired state', $e->getMessage());
        }
        // the provider spent code A on the failed try, as real ones do: a fresh flow connects
        $this->connect($id);
        $this->assertTrue(smtp34_account_get($id)['oauth_connected']);
        try {
            smtp34_oauth_finish($stateA, 'code-made-up');
            $this->fail('a made-up code connected');
        } catch (Smtp34\Exception $e) {
            $this->assertStringContainsString('invalid_grant', $e->getMessage());
        }
    }

    public function testOAuthFieldsAreValidatedByName(): void
    {
        $server = $this->xoauth2Server();
        $cases = [
            'oauth_token_url' => ['oauth_token_url' => 'http://example.com/token'],
            'oauth_client_id' => ['oauth_client_id' => ''],
            'oauth_provider' => ['oauth_provider' => 'aol'],
            'oauth_scope' => ['oauth_scope' => ''],
        ];
        foreach ($cases as $field => $change) {
            try {
                $this->oauthAccount($server, $change);
                $this->fail("$field accepted");
            } catch (ValueError $e) {
                $this->assertStringContainsString($field, $e->getMessage());
            }
        }
        $id = smtp34_account_save(['email' => 'm@site.ru', 'host' => 'smtp.office365.com', 'port' => 587, 'security' => 'starttls',
            'auth' => 'xoauth2', 'login' => 'm@site.ru', 'oauth_provider' => 'microsoft', 'oauth_client_id' => 'app'], false);
        $account = smtp34_account_get($id);
        $this->assertSame('https://login.microsoftonline.com/organizations/oauth2/v2.0/token', $account['oauth_token_url']);
        $this->assertSame('https://outlook.office.com/SMTP.Send offline_access', $account['oauth_scope']);
        $url = smtp34_oauth_start($id, 'https://site.ru/back');
        $this->assertStringStartsWith('https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?response_type=code&client_id=app&', $url);
        $this->assertStringContainsString('code_challenge_method=S256', $url);
    }
}
