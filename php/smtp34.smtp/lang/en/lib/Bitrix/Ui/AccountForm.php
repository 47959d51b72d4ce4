<?php
$MESS['SMTP34_TAB_CHECK'] = 'Check';
$MESS['SMTP34_TAB_CHECK_TITLE'] = 'Connection check against the mail server';
$MESS['SMTP34_TAB_LOG'] = 'Log';
$MESS['SMTP34_TAB_LOG_TITLE'] = 'The sending log of this account';
$MESS['SMTP34_CHECK_NOW'] = 'Check the connection';
$MESS['SMTP34_CHECK_RESULT'] = 'Result';
$MESS['SMTP34_CHECK_AFTER_SAVE'] = 'The account is checked when it is saved; afterwards the check can be run again here.';
$MESS['SMTP34_NO_LOG'] = 'No letter has gone through this account yet (or its log was cleared).';
