<?php
// Runs one command inside the real Bitrix kernel of the rig (php -c $RB_ROOT/php-run.ini kernel.php CMD ...)
// and prints its answer as one JSON line. Only what the browser cannot show: users and groups, agents,
// handlers, Bitrix's own mail API.
$_SERVER['DOCUMENT_ROOT'] = (getenv('RB_ROOT') ?: '/tmp/realbitrix') . '/www';
define('NO_KEEP_STATISTIC', true);
define('NOT_CHECK_PERMISSIONS', true);
define('BX_NO_ACCELERATOR_RESET', true);
if (($argv[1] ?? '') !== 'agents') {
    define('NO_AGENT_CHECK', true);
}
require $_SERVER['DOCUMENT_ROOT'] . '/bitrix/modules/main/include/prolog_before.php';

const MODULE = 'smtp34.smtp';
$say = static function ($value): void {
    echo json_encode($value, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
};
// delivery = background: the last letter's journal row once this process's sender thread has settled it
$delivered = static function (): ?array {
    for ($i = 0; $i < 200 && (smtp34_journal(1)[0]['status'] ?? '') === 'queued'; $i++) {
        usleep(50000);
    }
    return smtp34_journal(1)[0] ?? null;
};

switch ($argv[1] ?? '') {
    case 'user':    // user LOGIN PASSWORD RIGHT: a user in a group of its own that has RIGHT (D, R, W) on the module
        [, , $login, $password, $right] = $argv;
        $groupCode = 'SMTP34_' . $right;
        $group = CGroup::GetList('id', 'asc', ['STRING_ID' => $groupCode])->Fetch();
        $groupId = $group ? (int) $group['ID'] : (int) (new CGroup())->Add(['ACTIVE' => 'Y', 'NAME' => "smtp34 $right", 'STRING_ID' => $groupCode]);
        // into the admin section at all (its files and main's read right); the module's own right is what is tested
        $APPLICATION->SetFileAccessPermission('/bitrix/admin/', [$groupId => 'R']);
        $APPLICATION->SetGroupRight('main', $groupId, 'P');
        $APPLICATION->SetGroupRight(MODULE, $groupId, $right);
        $user = CUser::GetByLogin($login)->Fetch();
        $fields = ['LOGIN' => $login, 'EMAIL' => "$login@site.test", 'PASSWORD' => $password, 'CONFIRM_PASSWORD' => $password, 'ACTIVE' => 'Y', 'GROUP_ID' => [2, $groupId], 'LOGIN_ATTEMPTS' => 0];
        $cuser = new CUser();
        $id = $user ? ($cuser->Update($user['ID'], $fields) ? (int) $user['ID'] : 0) : (int) $cuser->Add($fields);
        $say(['user' => $id, 'group' => $groupId, 'error' => $cuser->LAST_ERROR]);
        break;
    case 'state':   // what the kernel holds of the module: installed, where, its agent and handlers
        $agents = [];
        $result = CAgent::GetList([], ['MODULE_ID' => MODULE]);
        while ($agent = $result->Fetch()) {
            $agents[] = ['name' => $agent['NAME'], 'next' => $agent['NEXT_EXEC'], 'last' => $agent['LAST_EXEC']];
        }
        $handlers = array_values(array_filter(
            \Bitrix\Main\EventManager::getInstance()->findEventHandlers('sender', 'OnPostingSendRecipientEmail'),
            static fn ($h) => ($h['TO_MODULE_ID'] ?? '') === MODULE
        ));
        $say(['installed' => \Bitrix\Main\ModuleManager::isModuleInstalled(MODULE), 'path' => getLocalPath('modules/' . MODULE),
            'agents' => $agents, 'handlers' => count($handlers),
            'accounts' => function_exists('smtp34_account_list') ? count(smtp34_account_list()) : null]);
        break;
    case 'due':     // makes the module's agent due now
        global $DB;
        $DB->Query("UPDATE b_agent SET NEXT_EXEC = " . $DB->CurrentTimeFunction() . " - INTERVAL 1 MINUTE WHERE MODULE_ID = '" . MODULE . "'");
        $say(['ok' => true]);
        break;
    case 'agents':  // Bitrix's agent runner, as a cron job or a hit runs it
        CAgent::CheckAgents();
        $say(['outbox' => count(smtp34_outbox_list())]);
        break;
    case 'send':    // send FROM TO SUBJECT: an event type and template of ours, then CEvent::SendImmediate
        [, , $from, $to, $subject] = $argv;
        $type = 'SMTP34_REAL_TEST';
        if (!CEventType::GetList(['TYPE_ID' => $type, 'LID' => 'ru'])->Fetch()) {
            (new CEventType())->Add(['LID' => 'ru', 'EVENT_NAME' => $type, 'NAME' => 'smtp34 test', 'DESCRIPTION' => '#TEXT#']);
        }
        if (!CEventMessage::GetList('id', 'asc', ['TYPE_ID' => $type])->Fetch()) {
            (new CEventMessage())->Add(['ACTIVE' => 'Y', 'EVENT_NAME' => $type, 'LID' => ['s1'], 'EMAIL_FROM' => '#FROM#',
                'EMAIL_TO' => '#TO#', 'SUBJECT' => '#SUBJECT#', 'BODY_TYPE' => 'text', 'MESSAGE' => "#TEXT#\n"]);
        }
        $result = CEvent::SendImmediate($type, 's1', ['FROM' => $from, 'TO' => $to, 'SUBJECT' => $subject, 'TEXT' => 'Письмо из Битрикса']);
        $say(['result' => $result, 'journal' => $delivered()]);
        break;
    case 'mail-send':   // mail-send FROM TO SUBJECT: \Bitrix\Main\Mail\Mail::send
        [, , $from, $to, $subject] = $argv;
        $ok = \Bitrix\Main\Mail\Mail::send(['TO' => $to, 'SUBJECT' => $subject, 'BODY' => 'Mail::send из Битрикса',
            'HEADER' => ['From' => $from], 'CHARSET' => 'UTF-8', 'CONTENT_TYPE' => 'text']);
        $say(['result' => $ok, 'journal' => $delivered()]);
        break;
    case 'api':     // api FUNCTION [JSON args]: one smtp34 call, for checks the pages do not show
        $say(($argv[2])(...json_decode($argv[3] ?? '[]', true)));
        break;
    default:
        fwrite(STDERR, "usage: kernel.php user LOGIN PASSWORD RIGHT|state|due|agents|send FROM TO SUBJECT|mail-send FROM TO SUBJECT|api FUNCTION [JSON]\n");
        exit(2);
}
